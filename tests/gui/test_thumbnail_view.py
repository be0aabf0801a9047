"""The arithmetic grid view: geometry, keyboard, mouse selection, work independent of the row
count, and batched thumbnail delivery; offscreen, with real Qt models and real image files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image as PILImage
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QStringListModel,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView
from pytestqt.qtbot import QtBot

from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.widgets.thumbnail_delegate import ThumbnailDelegate
from lorairo.gui.widgets.thumbnail_view import ThumbnailGridView

EDGE = 100
CELL_W, CELL_H = EDGE + 12, EDGE + 30  # ThumbnailDelegate.sizeHint


def _view(qtbot: QtBot, rows: int) -> tuple[ThumbnailGridView, QStringListModel]:
    model = QStringListModel([f"img_{row}" for row in range(rows)])
    view = ThumbnailGridView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegate(ThumbnailDelegate(view, EDGE))
    view.resize(5 * CELL_W + 40, 3 * CELL_H + 20)
    view.show()
    qtbot.waitExposed(view)
    return view, model


def _selected_rows(view: ThumbnailGridView) -> list[int]:
    return sorted(index.row() for index in view.selectionModel().selectedIndexes())


def test_cells_flow_left_to_right_and_hit_testing_inverts_layout(qtbot: QtBot) -> None:
    view, model = _view(qtbot, 103)
    columns = view.columns()
    assert columns == view.viewport().width() // CELL_W
    pitch = view.viewport().width() // columns  # the spare width is shared out between the columns
    assert CELL_W <= pitch < CELL_W + CELL_W // columns + 1
    for row in (0, 1, columns - 1, columns, 57, 102):
        rect = view.visualRect(model.index(row))
        assert rect.size().toTuple() == (pitch, CELL_H)
        assert (rect.x(), rect.y()) == ((row % columns) * pitch, (row // columns) * CELL_H)
        assert rect.right() < view.viewport().width()
        if view.viewport().rect().contains(rect.center()):
            assert view.indexAt(rect.center()).row() == row
    view.itemDelegate().edge = EDGE // 2  # type: ignore[attr-defined]
    view.doItemsLayout()  # what the thumbnail-size slider does
    assert view.visualRect(model.index(1)).x() == view.viewport().width() // view.columns()
    assert view.columns() == view.viewport().width() // (EDGE // 2 + 12)
    view.itemDelegate().edge = EDGE  # type: ignore[attr-defined]
    view.doItemsLayout()
    lines = -(-103 // columns)
    assert view.verticalScrollBar().maximum() == lines * CELL_H - view.viewport().height()
    view.scrollTo(model.index(102))
    last = view.visualRect(model.index(102))
    assert view.viewport().rect().contains(last)
    assert view.indexAt(last.center()).row() == 102
    assert not view.indexAt(last.center() + QPoint(CELL_W, 0)).isValid()  # past the last row


def test_keyboard_moves_by_cell_line_and_page_and_keeps_current_visible(qtbot: QtBot) -> None:
    view, model = _view(qtbot, 500)
    columns = view.columns()
    per_page = (view.viewport().height() // CELL_H) * columns
    view.setFocus()
    view.setCurrentIndex(model.index(0))
    steps = [
        (Qt.Key.Key_Right, 1),
        (Qt.Key.Key_Down, 1 + columns),
        (Qt.Key.Key_Left, columns),
        (Qt.Key.Key_PageDown, columns + per_page),
        (Qt.Key.Key_Up, per_page),
        (Qt.Key.Key_End, 499),
        (Qt.Key.Key_Down, 499),
        (Qt.Key.Key_PageUp, 499 - per_page),
        (Qt.Key.Key_Home, 0),
    ]
    for key, expected in steps:
        qtbot.keyClick(view, key)
        assert view.currentIndex().row() == expected, key
        assert view.viewport().rect().intersects(view.visualRect(view.currentIndex()))


def test_click_shift_click_and_ctrl_click_select_like_a_list(qtbot: QtBot) -> None:
    view, model = _view(qtbot, 60)
    columns = view.columns()
    anchor = columns - 1  # last cell of the first line; the shift-click lands left of it, a line down
    target = columns + 1

    def click(row: int, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        center = view.visualRect(model.index(row)).center()
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, center)

    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    click(anchor)
    assert _selected_rows(view) == [anchor]
    click(target, Qt.KeyboardModifier.ShiftModifier)
    assert _selected_rows(view) == list(range(anchor, target + 1))
    click(0, Qt.KeyboardModifier.ControlModifier)
    assert _selected_rows(view) == [0, *range(anchor, target + 1)]
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert view.currentIndex().row() == 1


class _CountingModel(QAbstractListModel):
    """Millions of rows, counting how often the view calls back into Python."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows
        self.calls = 0

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        self.calls += 1
        return 0 if parent.isValid() else self.rows

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        self.calls += 1
        return f"img_{index.row()}" if role == Qt.ItemDataRole.DisplayRole else None

    def grow(self, rows: int) -> None:
        self.beginInsertRows(QModelIndex(), self.rows, self.rows + rows - 1)
        self.rows += rows
        self.endInsertRows()


def test_layout_and_updates_touch_only_visible_rows(qtbot: QtBot) -> None:
    """What QListView does per row (an index, i.e. a Python rowCount, for each of them) on every
    reset, insert and change must not happen here: the calls stay bounded by what is on screen."""
    model = _CountingModel(5_000_000)
    view = ThumbnailGridView()
    qtbot.addWidget(view)
    view.setItemDelegate(ThumbnailDelegate(view, EDGE))
    view.resize(800, 600)
    view.setModel(model)
    view.show()
    qtbot.waitExposed(view)
    on_screen = (800 // CELL_W + 1) * (600 // CELL_H + 2)

    def reset() -> None:
        model.beginResetModel()
        model.endResetModel()

    def scroll_half_way() -> None:
        view.verticalScrollBar().setValue(view.verticalScrollBar().maximum() // 2)

    changes: list[Callable[[], object]] = [
        lambda: model.grow(1000),
        lambda: model.dataChanged.emit(model.index(0), model.index(199)),
        lambda: model.dataChanged.emit(model.index(3), model.index(3)),
        reset,
        scroll_half_way,
        lambda: view.keyboardSearch("img_4999999"),
    ]
    for change in changes:
        model.calls = 0
        change()
        view.viewport().repaint()
        qtbot.wait(20)
        assert model.calls < 40 * on_screen
    middle = view.indexAt(QPoint(5, 5)).row()
    assert middle > 2_000_000


def test_decoded_thumbnails_arrive_in_batches_then_idle(qtbot: QtBot, tmp_path: Path) -> None:
    paths = []
    for index in range(30):
        path = tmp_path / f"t{index}.png"
        PILImage.new("RGB", (120, 90), (index * 8, 100, 200 - index * 5)).save(path)
        paths.append(path)
    loader = ThumbnailLoader()
    loader.set_edge(64)
    batches: list[list[int]] = []
    idle: list[bool] = []
    loader.loaded.connect(batches.append)
    loader.idle.connect(lambda: idle.append(loader.busy()))
    for image_id, path in enumerate(paths):
        assert loader.get(image_id, path) is None
    qtbot.waitUntil(lambda: bool(idle), timeout=10_000)
    assert sorted(image_id for batch in batches for image_id in batch) == list(range(30))
    assert idle[0] is False and loader.cached_count == 30
    assert all(loader.get(image_id, path) is not None for image_id, path in enumerate(paths))
    loader.shutdown()
