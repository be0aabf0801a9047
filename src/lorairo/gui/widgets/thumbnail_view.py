"""A grid view whose geometry is arithmetic: every cell has the delegate's size, row r sits at
column r % columns of line r // columns.

QListView lays out every row whenever the model resets, grows or reports a change, and asks the
model for an index per row while doing it; with a Python model and 100k rows that is 200k Python
calls (300+ ms) per layout, once per arriving page or thumbnail. Here layout, hit-testing,
scrolling and painting cost the same for 100 rows or 10 million: only visible rows are touched.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent, QPalette, QRegion, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem, QWidget

Index = QModelIndex | QPersistentModelIndex
Cursor = QAbstractItemView.CursorAction


class ThumbnailGridView(QAbstractItemView):
    """Uniform cells flowing left to right and wrapping; vertical scrolling only."""

    painted = Signal()
    delete_pressed = Signal()  # Delete on the grid (the window asks before removing anything)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cell: QSize | None = None
        self.empty_message = ""  # painted in place of the cells when the result is empty
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.verticalScrollBar().setSingleStep(24)

    # -- geometry ----------------------------------------------------------------------------

    def _count(self) -> int:
        model = self.model()
        return model.rowCount(self.rootIndex()) if model is not None else 0

    def cell_size(self) -> QSize:
        """The delegate's size hint, the same for every row by contract of this view; asked again
        on each layout (`doItemsLayout` after the delegate's size changes)."""
        if self._cell is None:
            option = QStyleOptionViewItem()
            option.initFrom(self)
            size = self.itemDelegate().sizeHint(option, QModelIndex())
            self._cell = QSize(max(1, size.width()), max(1, size.height()))
        return self._cell

    def columns(self) -> int:
        return max(1, self.viewport().width() // self.cell_size().width())

    def pitch(self) -> int:
        """The column width: the cell plus an even share of the spare width, so the columns fill
        the view instead of leaving a gap on the right."""
        return max(self.cell_size().width(), self.viewport().width() // self.columns())

    def _row_at(self, point: QPoint, *, clamp: bool) -> int:
        """The row under a viewport point; with `clamp`, the nearest row for points off the cells."""
        count = self._count()
        if count == 0:
            return -1
        cell, columns = self.cell_size(), self.columns()
        line = (point.y() + self.verticalOffset()) // cell.height()
        column = point.x() // self.pitch()
        if not clamp and (point.x() < 0 or point.y() + self.verticalOffset() < 0 or column >= columns):
            return -1
        row = max(0, line) * columns + min(max(0, column), columns - 1)
        if row >= count:
            return count - 1 if clamp else -1
        return row

    def _row_rect(self, row: int) -> QRect:
        cell, columns, pitch = self.cell_size(), self.columns(), self.pitch()
        return QRect(
            (row % columns) * pitch,
            (row // columns) * cell.height() - self.verticalOffset(),
            pitch,
            cell.height(),
        )

    def visible_rows(self) -> range:
        count = self._count()
        if count == 0:
            return range(0)
        cell, columns = self.cell_size(), self.columns()
        top = self.verticalOffset()
        first = (top // cell.height()) * columns
        last = ((top + self.viewport().height() - 1) // cell.height() + 1) * columns
        return range(min(first, count), min(last, count))

    def doItemsLayout(self) -> None:
        self._cell = None
        super().doItemsLayout()

    def updateGeometries(self) -> None:
        count, cell = self._count(), self.cell_size()
        lines = -(-count // self.columns())
        bar = self.verticalScrollBar()
        bar.setPageStep(self.viewport().height())
        bar.setRange(0, max(0, lines * cell.height() - self.viewport().height()))
        super().updateGeometries()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the current image in view when the number of columns changes (else the first
        visible row)."""
        cell = self.cell_size()
        frame = self.width() - self.viewport().width()
        old_columns = max(1, (event.oldSize().width() - frame) // cell.width())
        first = (self.verticalOffset() // cell.height()) * old_columns
        current = self.currentIndex()
        current_visible = current.isValid() and current.row() in self.visible_rows()
        super().resizeEvent(event)
        if not event.oldSize().isValid():
            return
        if current_visible:
            self.keep_in_view(current)
        elif first:
            self.verticalScrollBar().setValue((first // self.columns()) * cell.height())

    def keep_in_view(self, index: Index) -> None:
        """After a layout change: the current image where the user can see it."""
        if index.isValid() and not self.viewport().rect().contains(self.visualRect(index)):
            self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    # -- QAbstractItemView interface ---------------------------------------------------------

    def visualRect(self, index: Index) -> QRect:
        if not index.isValid() or index.parent() != self.rootIndex():
            return QRect()
        return self._row_rect(index.row())

    def indexAt(self, point: QPoint) -> QModelIndex:
        row = self._row_at(point, clamp=False)
        model = self.model()
        return model.index(row, 0, self.rootIndex()) if row >= 0 and model is not None else QModelIndex()

    def scrollTo(
        self, index: Index, hint: QAbstractItemView.ScrollHint = QAbstractItemView.ScrollHint.EnsureVisible
    ) -> None:
        if not index.isValid():
            return
        rect = self.visualRect(index)
        height = self.viewport().height()
        bar = self.verticalScrollBar()
        top = rect.top() + bar.value()
        Hint = QAbstractItemView.ScrollHint
        if hint == Hint.PositionAtTop:
            bar.setValue(top)
        elif hint == Hint.PositionAtBottom:
            bar.setValue(top + rect.height() - height)
        elif hint == Hint.PositionAtCenter:
            bar.setValue(top + (rect.height() - height) // 2)
        elif rect.top() < 0:
            bar.setValue(top)
        elif rect.bottom() >= height:
            bar.setValue(top + rect.height() - height)

    def horizontalOffset(self) -> int:
        return 0

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: Index) -> bool:
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Delete is the grid's own key (a shortcut would also take it from the tag list)."""
        if event.key() == Qt.Key.Key_Delete and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self.delete_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyboardSearch(self, search: str) -> None:
        """Typing a letter does not look for a matching name: Qt's default scans every row's
        display text, which would load every page of a 100k result. Ctrl+F is the search."""

    def moveCursor(self, action: Cursor, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        count, model = self._count(), self.model()
        if count == 0 or model is None:
            return QModelIndex()
        current = self.currentIndex()
        row = current.row() if current.isValid() else -1
        if row < 0:
            return model.index(0, 0, self.rootIndex())
        columns = self.columns()
        page = max(1, self.viewport().height() // self.cell_size().height()) * columns
        moves = {
            Cursor.MoveLeft: -1,
            Cursor.MovePrevious: -1,
            Cursor.MoveRight: 1,
            Cursor.MoveNext: 1,
            Cursor.MoveUp: -columns,
            Cursor.MoveDown: columns,
            Cursor.MovePageUp: -page,
            Cursor.MovePageDown: page,
        }
        if action == Cursor.MoveHome:
            row = 0
        elif action == Cursor.MoveEnd:
            row = count - 1
        elif action in moves:
            step = moves[action]
            target = row + step
            # up/down that would leave the grid stay in place; page moves stop at the ends
            if action in (Cursor.MoveUp, Cursor.MoveDown) and not 0 <= target < count:
                target = row if action == Cursor.MoveUp else count - 1
            row = min(max(target, 0), count - 1)
        return model.index(row, 0, self.rootIndex())

    def setSelection(self, rect: QRect, command: QItemSelectionModel.SelectionFlag) -> None:
        """A click selects the cell under it; a rubber band the cells it covers; shift-click and
        shift-arrows the contiguous rows between the anchor and the current cell."""
        model, selection_model = self.model(), self.selectionModel()
        if model is None or selection_model is None:
            return
        rect = rect.normalized()
        selection = QItemSelection()
        root = self.rootIndex()
        if rect.width() <= 1 and rect.height() <= 1:
            index = self.indexAt(rect.topLeft())
            if index.isValid():
                selection.select(index, index)
        elif self.state() == QAbstractItemView.State.DragSelectingState:
            for first, last in self._rectangle_runs(rect):
                selection.select(model.index(first, 0, root), model.index(last, 0, root))
        else:
            first, last = self._logical_range(rect)
            if first >= 0:
                selection.select(model.index(first, 0, root), model.index(last, 0, root))
        selection_model.select(selection, command)

    def _logical_range(self, rect: QRect) -> tuple[int, int]:
        """The two ends are opposite corners of `rect`; the current cell tells which diagonal."""
        corners = (
            (rect.topLeft(), rect.bottomRight()),
            (rect.topRight(), rect.bottomLeft()),
        )
        current = self.currentIndex().row()
        ends = [(self._row_at(a, clamp=True), self._row_at(b, clamp=True)) for a, b in corners]
        first, last = ends[1] if current in ends[1] and current not in ends[0] else ends[0]
        return min(first, last), max(first, last)

    def _rectangle_runs(self, rect: QRect) -> list[tuple[int, int]]:
        count = self._count()
        if count == 0:
            return []
        cell, columns = self.cell_size(), self.columns()
        offset = self.verticalOffset()
        left = max(0, rect.left() // self.pitch())
        right = min(columns - 1, rect.right() // self.pitch())
        top = max(0, (rect.top() + offset) // cell.height())
        bottom = (rect.bottom() + offset) // cell.height()
        runs = []
        for line in range(top, bottom + 1):
            first, last = line * columns + left, min(line * columns + right, count - 1)
            if first > last:
                break
            runs.append((first, last))
        return runs

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        region = QRegion()
        visible = self.visible_rows()
        if not visible:
            return region
        for index in range(selection.count()):
            selected = selection.at(index)
            if selected.parent() != self.rootIndex():
                continue
            for row in range(max(selected.top(), visible.start), min(selected.bottom() + 1, visible.stop)):
                region += self._row_rect(row)
        return region

    # -- painting --------------------------------------------------------------------------

    def set_empty_message(self, text: str) -> None:
        self.empty_message = text
        self.viewport().update()

    def _paint_empty_message(self, painter: QPainter) -> None:
        area = self.viewport().rect().adjusted(24, 24, -24, -24)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        painter.drawText(area, int(flags), self.empty_message)

    def paintEvent(self, event: QPaintEvent) -> None:
        model, selection = self.model(), self.selectionModel()
        if model is None:
            return
        painter = QPainter(self.viewport())
        if self._count() == 0 and self.empty_message:
            self._paint_empty_message(painter)
        option = QStyleOptionViewItem()
        option.initFrom(self)
        base_state = option.state
        delegate, root = self.itemDelegate(), self.rootIndex()
        current = self.currentIndex()
        focused = self.hasFocus()
        dirty = event.rect()
        for row in self.visible_rows():
            rect = self._row_rect(row)
            if not rect.intersects(dirty):
                continue
            index = model.index(row, 0, root)
            option.rect = rect
            state = base_state
            if selection is not None and selection.isSelected(index):
                state |= QStyle.StateFlag.State_Selected
            if focused and index == current:
                state |= QStyle.StateFlag.State_HasFocus
            option.state = state
            delegate.paint(painter, option, index)
        painter.end()
        self.painted.emit()
