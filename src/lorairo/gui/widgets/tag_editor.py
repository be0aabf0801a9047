"""Tag editor for one image: the tags that count, rejected ones struck through, an input with
autocomplete from the tag database and the project's own tags (post counts shown); drag a tag to
reorder.

Edits are requested by signal; the window runs them through `EditService` in a worker, so every
change is in the edit log and undoable. Delete rejects (or restores) the current tag and moves to
the next one, so Down+Delete never hits the wrong tag; Ctrl+Z in the empty input undoes the last
edit, once the input has no text of its own to undo.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

TAG_ROLE = Qt.ItemDataRole.UserRole + 1
REJECTED_ROLE = Qt.ItemDataRole.UserRole + 2


class TagEditor(QWidget):
    add_requested = Signal(list)
    reject_requested = Signal(str, bool)  # tag, restore
    reorder_requested = Signal(list)  # every tag name, in the new order
    prefix_typed = Signal(str)
    undo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setToolTip("Delete: reject the tag (again to restore it)")
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.model().rowsMoved.connect(self._moved)
        self.input = QLineEdit()
        self.input.setPlaceholderText("Add tags…")
        self.list.installEventFilter(self)  # after `input` exists: the filter reads both
        self.input.installEventFilter(self)
        self._next_row: int | None = None  # where the selection goes once the list is redrawn
        self.add_button = QPushButton("Add")
        self.reject_button = QPushButton("Reject / restore")
        self.suggestions = QStandardItemModel(self)
        self.completer = QCompleter(self.suggestions, self)
        self.completer.setCompletionRole(TAG_ROLE)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.input.setCompleter(self.completer)
        self.project_tags: dict[str, int] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(lambda: self.prefix_typed.emit(self.input.text().strip()))
        self.input.textEdited.connect(lambda _t: self._debounce.start())
        self.input.returnPressed.connect(self._add)
        self.add_button.clicked.connect(self._add)
        self.reject_button.clicked.connect(self.toggle_current)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)

    def set_tags(self, tags: list[tuple[str, bool]]) -> None:
        """(tag, rejected) pairs in display order; the selection moves on after a Delete."""
        self.list.clear()
        for tag, rejected in tags:
            item = QListWidgetItem(tag)
            item.setData(TAG_ROLE, tag)
            item.setData(REJECTED_ROLE, rejected)
            if rejected:
                font = QFont(item.font())
                font.setStrikeOut(True)
                item.setFont(font)
                item.setForeground(QColor(140, 140, 140))
                item.setToolTip("rejected: kept, but left out of search and export")
            self.list.addItem(item)
        if self._next_row is not None and self.list.count():
            self.list.setCurrentRow(min(self._next_row, self.list.count() - 1))

    def forget_selection(self) -> None:
        """Another image: its list starts without a carried-over selection."""
        self._next_row = None

    def tags(self) -> list[tuple[str, bool]]:
        return [
            (self.list.item(row).data(TAG_ROLE), bool(self.list.item(row).data(REJECTED_ROLE)))
            for row in range(self.list.count())
        ]

    def set_project_tags(self, counts: dict[str, int]) -> None:
        self.project_tags = counts
        self.set_suggestions([])

    def set_suggestions(self, from_tag_db: list[tuple[str, int]]) -> None:
        """Tag-database suggestions first (with post counts), then the project's own tags."""
        self.suggestions.clear()
        seen: set[str] = set()
        for tag, posts in from_tag_db:
            if tag not in seen:
                seen.add(tag)
                self.suggestions.appendRow(self._suggestion(tag, f"{posts:,} posts"))
        for tag, images in sorted(self.project_tags.items(), key=lambda kv: -kv[1]):
            if tag not in seen:
                seen.add(tag)
                self.suggestions.appendRow(self._suggestion(tag, f"{images:,} in project"))
        if self.input.hasFocus() and self.input.text():
            self.completer.setCompletionPrefix(self.input.text().strip())
            self.completer.complete()

    @staticmethod
    def _suggestion(tag: str, count: str) -> QStandardItem:
        item = QStandardItem(f"{tag}   ({count})")
        item.setData(tag, TAG_ROLE)
        return item

    def _add(self) -> None:
        tags = [part.strip() for part in self.input.text().split(",") if part.strip()]
        if tags:
            self.add_requested.emit(tags)
            self.input.clear()

    def toggle_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.reject_requested.emit(item.data(TAG_ROLE), bool(item.data(REJECTED_ROLE)))

    def _moved(self) -> None:
        """A drop moved a row: ask for the list's order to be stored (the refresh then redraws it)."""
        self.reorder_requested.emit([tag for tag, _rejected in self.tags()])

    def _delete_current(self) -> None:
        row = self.list.currentRow()
        self.toggle_current()
        if row >= 0:
            self._next_row = min(row + 1, self.list.count() - 1)
            self.list.setCurrentRow(self._next_row)

    @staticmethod
    def _is_undo(event: QEvent) -> bool:
        return (
            event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Z
            and event.modifiers() == Qt.KeyboardModifier.ControlModifier
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.list
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
        ):
            self._delete_current()
            return True
        if watched is self.input and not self.input.text() and self._is_undo(event):
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self.undo_requested.emit()
            return True
        return super().eventFilter(watched, event)
