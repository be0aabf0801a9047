"""The window on a real registered project: open, search, facets, bulk edit with undo, inspector
edits, registration with a broken file, close during work, shortcuts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget
from pytestqt.qtbot import QtBot

from lorairo.gui.dialogs.shortcuts_dialog import ShortcutsDialog
from lorairo.gui.main_window import MainWindow
from lorairo.gui.models.thumbnail_model import ITEM_ROLE
from lorairo.gui.widgets.facets_panel import TAG_DATA
from lorairo.gui.widgets.tag_editor import REJECTED_ROLE, TAG_ROLE
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from lorairo.services.search_service import SearchService
from tests.factories import make_image_file
from tests.gui.conftest import CATS, IMAGES, PROJECT, WaitTask


def _count(config: ConfigurationService, query: str) -> int:
    """Ask the database itself, through a separate connection, not the window."""
    project = ProjectService(config).open(PROJECT)
    try:
        return SearchService(project).count(query)
    finally:
        project.close()


def _details(config: ConfigurationService, image_id: int) -> dict[str, object]:
    project = ProjectService(config).open(PROJECT)
    try:
        return SearchService(project).details([image_id])[0]
    finally:
        project.close()


def _click_facet(qtbot: QtBot, tags: QListWidget, tag: str, *, shift: bool) -> None:
    row = next(r for r in range(tags.count()) if tags.item(r).data(TAG_DATA) == tag)
    rect = tags.visualItemRect(tags.item(row))
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(tags.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_open_names_project_paints_thumbnails_and_remembers_it(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    assert PROJECT in window.windowTitle()
    assert window.search_bar.count_label.text() == f"{IMAGES} images"
    window.view.viewport().grab()  # paint: visible rows ask for their thumbnails
    qtbot.waitUntil(lambda: window.loader.cached_count >= IMAGES, timeout=10_000)
    item = window.model.index(0).data(ITEM_ROLE)
    assert item.thumbnail is not None and item.thumbnail.is_file()
    assert ConfigurationService(config.path).config.gui.last_project == PROJECT


def test_search_with_query_and_facet_clicks(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClicks(window.search_bar.line, "tag:dog")
    qtbot.keyClick(window.search_bar.line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.model.total == IMAGES - CATS)
    assert window.search_bar.count_label.text() == f"{IMAGES - CATS} images"
    qtbot.waitUntil(lambda: window.model.item(window.model.total - 1) is not None)
    assert all("dog" in window.model.item(row).tags for row in range(window.model.total))

    window.search_bar.set_text("")
    qtbot.waitUntil(lambda: window.model.total == IMAGES)
    qtbot.waitUntil(lambda: {"cat", "dog"} <= set(window.facets.tag_names()))
    _click_facet(qtbot, window.facets.tags, "cat", shift=True)
    assert window.search_bar.text == '-tag:"cat"'
    qtbot.waitUntil(lambda: window.model.total == IMAGES - CATS)
    qtbot.waitUntil(lambda: "cat" not in window.facets.tag_names())
    _click_facet(qtbot, window.facets.tags, "dog", shift=False)
    qtbot.waitUntil(lambda: window.search_bar.text == '-tag:"cat" tag:"dog"')
    qtbot.waitUntil(lambda: window.model.total == IMAGES - CATS)

    window.search_bar.set_text("score:>abc")
    qtbot.waitUntil(lambda: "expected a number" in window.search_bar.error_label.text())


def test_bulk_add_tag_to_selection_with_dry_run_then_undo_and_redo(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    window.grid.select_rows([0, 1, 2])
    dialog = window.edit.open_bulk_edit(window)
    assert dialog is not None and dialog.scope_selection.isChecked()
    dialog.tags.setText("keeper")
    qtbot.mouseClick(dialog.dry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.apply_button.isEnabled)
    assert "3 of 3 images would change" in dialog.outcome.text()
    assert _count(config, "tag:keeper") == 0  # a dry run writes nothing
    with qtbot.waitSignal(dialog.applied, timeout=30_000):
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert _count(config, "tag:keeper") == 3
    qtbot.waitUntil(lambda: "keeper" in window.model.item(0).tags)

    assert window.actions_by_name["undo"].shortcut().toString() == "Ctrl+Z"
    assert window.actions_by_name["redo"].shortcut().toString() == "Ctrl+Shift+Z"
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.actions_by_name["undo"].trigger()
    assert _count(config, "tag:keeper") == 0
    qtbot.waitUntil(lambda: "keeper" not in window.model.item(0).tags)
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.actions_by_name["redo"].trigger()
    assert _count(config, "tag:keeper") == 3


def test_inspector_caption_edit_and_reject_tag_with_delete(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    window.grid.select_rows([0])
    image_id = window.model.item(0).id
    qtbot.waitUntil(lambda: window.inspector.image_id == image_id, timeout=10_000)
    window.inspector.caption_edit.setPlainText("a cat on a red sofa")
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.mouseClick(window.inspector.save_caption_button, Qt.MouseButton.LeftButton)
    captions = _details(config, image_id)["captions"]
    assert [(c["caption"], c["source"]) for c in captions] == [("a cat on a red sofa", "manual")]  # type: ignore[index,union-attr]

    tags = window.inspector.tag_editor.list
    qtbot.waitUntil(lambda: tags.count() == 1)
    tags.setCurrentRow(0)
    assert tags.item(0).data(TAG_ROLE) == "cat"
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(tags, Qt.Key.Key_Delete)
    rows = _details(config, image_id)["tags"]
    assert [row["rejected_at"] is not None for row in rows] == [True]  # type: ignore[index,union-attr]
    qtbot.waitUntil(lambda: tags.count() == 1 and bool(tags.item(0).data(REJECTED_ROLE)))
    assert _count(config, "tag:cat") == CATS - 1


def test_register_folder_with_a_broken_file_shows_failure_and_grows_grid(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, wait_task: WaitTask
) -> None:
    folder = tmp_path / "more"
    for index in range(3):
        make_image_file(folder / f"new_{index}.png", (80, 60), seed=100 + index)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    task = window.register.register_paths([folder])
    assert task is not None
    report = wait_task(task)
    assert report.counts.registered == 3 and report.counts.failed == 1  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: window.model.total == IMAGES + 3, timeout=10_000)
    row = window.progress.rows[-1]
    assert "broken.jpg" in row.details.toPlainText()
    assert row.details.toPlainText().startswith("1 file rejected:")
    assert "3 new" in row.status.text() and "1 failed" in row.status.text()
    assert not row.details.isHidden()


def test_closing_during_registration_cancels_and_keeps_committed_rows(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, config: ConfigurationService
) -> None:
    folder = tmp_path / "bulk"
    for index in range(40):
        make_image_file(folder / f"b_{index:02d}.png", (64, 48), seed=500 + index)
    task = window.register.register_paths([folder])
    assert task is not None
    window.close()
    assert not window.session.runner.active or all(t.token.cancelled for t in window.session.runner.active)
    assert window.session.runner.pool.activeThreadCount() == 0
    project = ProjectService(config).open(PROJECT)
    try:
        ids = [i for batch in SearchService(project).iter_ids("all") for i in batch]
        details = SearchService(project).details(ids)
        assert all((project.root / str(record["stored_path"])).is_file() for record in details)
        assert len(ids) >= IMAGES
    finally:
        project.close()


def test_shortcuts_dialog_lists_every_bound_key(window: MainWindow) -> None:
    dialog = ShortcutsDialog(window.shortcut_list(), window)
    keys = {dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())}
    for expected in ("Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+F", "Ctrl+A", "Ctrl+B", "F1", "Ctrl+E"):
        assert expected in keys
    actions = {dialog.table.item(row, 1).text() for row in range(dialog.table.rowCount())}
    assert "Reject the tag; again to restore it" in actions
