"""The grid: right-click menu, thumbnails sharp at the largest size, the current image kept in view."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PIL import Image as PILImage
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from lorairo.gui.controllers.grid import file_location
from lorairo.gui.main_window import MainWindow
from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.models.thumbnail_model import ITEM_ROLE, THUMBNAIL_ROLE, GridItem
from lorairo.services.edit_service import EditTarget
from tests.gui.conftest import IMAGES


def test_context_menu_offers_file_location_and_other_features_sections(
    qtbot: QtBot, window: MainWindow, source_folder: object
) -> None:
    seen: list[int] = []
    window.grid.add_menu_section(lambda menu, item: (seen.append(item.id), menu.addAction("Another feature")))
    window.grid.select_rows([0])
    index = window.model.index(3)
    qtbot.waitUntil(lambda: window.model.item(3) is not None)
    menu = window.grid.context_menu(index)
    assert isinstance(menu, QMenu)
    texts = [action.text() for action in menu.actions() if not action.isSeparator()]
    assert sorted(texts[:4]) == [
        "Find similar",
        "Reject from export",
        "Remove from project…",
        "Restore to export",
    ]  # the window's own
    assert texts[4:] == ["Another feature", "Open file location"]
    item = index.data(ITEM_ROLE)
    assert seen == [item.id]
    assert window.grid.current_image_id() == item.id and window.grid.selection_count() == 1
    assert file_location(item) == source_folder  # the user's folder, not the project's copy


def test_thumbnails_are_sharp_at_the_largest_size_and_the_current_stays_in_view(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.resize(1100, 700)
    window.grid.select_rows([IMAGES - 1])
    window.size_slider.setValue(window.size_slider.maximum())
    edge = window.size_slider.maximum()
    current = window.view.currentIndex()
    assert window.view.viewport().rect().contains(window.view.visualRect(current).center())
    window.view.viewport().grab()
    item: GridItem = current.data(ITEM_ROLE)
    qtbot.waitUntil(lambda: current.data(THUMBNAIL_ROLE) is not None, timeout=10_000)
    image = current.data(THUMBNAIL_ROLE)
    # the demo images are 96x72: as sharp as they get is their own size (never upscaled)
    assert (image.width(), image.height()) == (min(edge, item.width), min(edge, item.height))


def test_a_thumbnail_stored_smaller_than_the_cell_is_replaced_by_the_original(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """Projects registered with 256 px thumbnails stay sharp at 512 without re-registering."""
    original = tmp_path / "original.jpg"
    PILImage.new("RGB", (1200, 900), (200, 120, 40)).save(original)
    small = tmp_path / "thumb.webp"
    PILImage.new("RGB", (256, 192), (200, 120, 40)).save(small)
    loader = ThumbnailLoader()
    loader.set_edge(512)
    assert loader.get(1, small, original) is None and loader.get(2, small) is None
    qtbot.waitUntil(lambda: loader.get(1, small, original) is not None and loader.get(2, small) is not None)
    on_demand, stored = loader.get(1, small, original), loader.get(2, small)
    assert on_demand is not None and (on_demand.width(), on_demand.height()) == (512, 384)
    assert stored is not None and (stored.width(), stored.height()) == (256, 192)
    loader.shutdown()


def _rejected_from_export(window: MainWindow) -> set[int]:
    project = window.project
    assert project is not None
    with sqlite3.connect(project.database_path) as connection:
        return {row[0] for row in connection.execute("SELECT image_id FROM export_rejections")}


def _trigger(window: MainWindow, row: int, text: str) -> None:
    menu = window.grid.context_menu(window.model.index(row))
    assert isinstance(menu, QMenu)
    next(action for action in menu.actions() if action.text() == text).trigger()


def test_reject_from_export_in_the_menu_covers_the_selection_and_undoes(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.grid.select_rows([1, 2, 4])
    qtbot.waitUntil(lambda: window.grid.selection_count() == 3)
    chosen = {window.model.item(row).id for row in (1, 2, 4)}  # type: ignore[union-attr]
    _trigger(window, 2, "Reject from export")  # a row inside the selection keeps the selection
    qtbot.waitUntil(lambda: _rejected_from_export(window) == chosen, timeout=10_000)
    window.edit.undo()
    qtbot.waitUntil(lambda: _rejected_from_export(window) == set(), timeout=10_000)
    window.grid.select_rows([0])
    _trigger(window, 0, "Reject from export")
    first = {window.model.item(0).id}  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: _rejected_from_export(window) == first, timeout=10_000)
    _trigger(window, 0, "Restore to export")
    qtbot.waitUntil(lambda: _rejected_from_export(window) == set(), timeout=10_000)


def _stored(window: MainWindow) -> dict[int, str]:
    project = window.project
    assert project is not None
    with sqlite3.connect(project.database_path) as connection:
        return dict(connection.execute("SELECT id, stored_path FROM images"))


def test_remove_from_project_asks_with_the_count_and_undo_brings_the_images_back(
    qtbot: QtBot, window: MainWindow
) -> None:
    project = window.project
    assert project is not None
    before = _stored(window)
    window.grid.select_rows([1, 3, 4])
    qtbot.waitUntil(lambda: window.grid.selection_count() == 3)
    chosen = {window.model.item(row).id for row in (1, 3, 4)}  # type: ignore[union-attr]
    menu = window.grid.context_menu(window.model.index(3))
    assert isinstance(menu, QMenu)
    remove = next(action for action in menu.actions() if action.text().startswith("Remove"))
    assert remove.text() == "Remove 3 images from project…"
    remove.trigger()
    box = window.edit.confirm_removal
    assert box is not None and "these 3 images" in box.text()
    box.done(QMessageBox.StandardButton.Cancel)  # no: nothing happens
    assert window.edit.confirm_removal is None and window.edit.queue.idle() and _stored(window) == before

    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)  # the grid's Delete asks the same question
    box = window.edit.confirm_removal
    assert box is not None and "these 3 images" in box.text()
    box.done(QMessageBox.StandardButton.Ok)
    qtbot.waitUntil(lambda: set(_stored(window)) == set(before) - chosen, timeout=30_000)
    qtbot.waitUntil(lambda: window.model.total == IMAGES - 3, timeout=30_000)
    for image_id in chosen:
        assert not project.file_path(before[image_id]).exists()
    assert len(list(project.trash_dir.glob("*/images/originals/*/*.png"))) == 3

    window.edit.undo()
    qtbot.waitUntil(lambda: _stored(window) == before, timeout=30_000)
    qtbot.waitUntil(lambda: window.model.total == IMAGES, timeout=30_000)
    assert all(project.file_path(path).is_file() for path in before.values())


def test_removing_an_image_keeps_the_scroll_and_the_rest_of_the_selection(
    qtbot: QtBot, window: MainWindow
) -> None:
    """An edit of this window that changes the count (a removal) follows the images: no reset,
    the scroll stays, the selection keeps its images minus the one that left (even one whose row
    moved), undo brings the image back without losing them either."""
    resets: list[bool] = []
    window.model.modelReset.connect(lambda: resets.append(True))
    window.grid.set_thumbnail_size(512)  # big cells: the ten images need scrolling
    bar = window.view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: all(window.model.item(row) is not None for row in range(IMAGES)), timeout=10_000)
    window.grid.select_rows([8, 5, 7])  # the current image is row 8
    ids = {row: window.model.item(row).id for row in (5, 7, 8)}  # type: ignore[union-attr]
    bar.setValue(bar.maximum() // 2)
    first_visible = window.view.visible_rows().start
    assert first_visible > 0

    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.edit.queue.submit(
            "remove one", lambda service: service.remove_images(EditTarget(ids=(ids[7],)), apply=True)
        )
    qtbot.waitUntil(lambda: window.model.total == IMAGES - 1, timeout=30_000)
    selected = sorted(index.row() for index in window.view.selectionModel().selectedIndexes())
    assert selected == [5, 7], "row 8's image moved up into the removed one's place, still selected"
    assert {window.model.item(row).id for row in selected} == {ids[5], ids[8]}  # type: ignore[union-attr]
    assert window.grid.current_image_id() == ids[8]
    assert window.view.visible_rows().start == first_visible, "the scroll position is kept"
    assert not resets, "the grid was updated in place, not reset"

    window.edit.undo()
    qtbot.waitUntil(lambda: window.model.total == IMAGES, timeout=30_000)
    qtbot.waitUntil(lambda: window.model.item(8) is not None, timeout=10_000)
    selected = sorted(index.row() for index in window.view.selectionModel().selectedIndexes())
    assert {window.model.item(row).id for row in selected} == {ids[5], ids[8]}  # type: ignore[union-attr]
    assert window.view.visible_rows().start == first_visible and not resets
