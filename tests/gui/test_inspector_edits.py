"""Edits in the inspector cannot vanish: a typed caption is saved when the image changes, when the
box loses focus and on Ctrl+Enter; Delete moves on to the next tag; Ctrl+Z in the empty tag box
undoes the last tag edit; and every view an edit makes stale is refreshed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from lorairo.gui.main_window import MainWindow
from lorairo.gui.widgets.tag_editor import REJECTED_ROLE, TAG_ROLE
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService
from lorairo.services.project_service import ProjectService
from lorairo.services.search_service import SearchService
from tests.gui.conftest import PROJECT


def _stored(config: ConfigurationService, image_id: int) -> dict:
    """Read through a separate connection, not the window."""
    project = ProjectService(config).open(PROJECT)
    try:
        return SearchService(project).details([image_id])[0]
    finally:
        project.close()


def _manual_caption(config: ConfigurationService, image_id: int) -> str | None:
    manual = [c["caption"] for c in _stored(config, image_id)["captions"] if c["source"] == "manual"]
    return manual[0] if manual else None


def _show(qtbot: QtBot, window: MainWindow, row: int) -> int:
    window.grid.select_rows([row])
    image_id = window.model.item(row).id
    qtbot.waitUntil(lambda: window.inspector.image_id == image_id, timeout=10_000)
    return image_id


def test_typed_caption_is_saved_when_the_image_changes_and_undo_takes_it_back(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    first = _show(qtbot, window, 0)
    qtbot.keyClicks(window.inspector.caption_edit, "a cat on a red sofa")
    assert _manual_caption(config, first) is None, "nothing is written while typing"
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        second = _show(qtbot, window, 1)
    assert second != first
    assert _manual_caption(config, first) == "a cat on a red sofa"
    assert window.inspector.caption_edit.toPlainText() == "", "the second image shows its own caption"

    project = ProjectService(config).open(PROJECT)
    try:
        assert EditService(project).log(1)[0].operation == "set_caption", "saved through the edit log"
    finally:
        project.close()
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.actions_by_name["undo"].trigger()
    assert _manual_caption(config, first) is None


def test_ctrl_enter_saves_the_caption(qtbot: QtBot, window: MainWindow, config: ConfigurationService) -> None:
    image_id = _show(qtbot, window, 2)
    box = window.inspector.caption_edit
    qtbot.keyClicks(box, "sunlit window")
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert _manual_caption(config, image_id) == "sunlit window"
    assert box.toPlainText() == "sunlit window", "Ctrl+Enter saves; it does not add a line"


def test_delete_moves_on_and_ctrl_z_in_the_empty_tag_box_undoes(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    image_id = _show(qtbot, window, 0)
    editor = window.inspector.tag_editor
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        editor.add_requested.emit(["sofa", "red"])

    def listed() -> list[tuple[str, bool]]:
        return [
            (editor.list.item(row).data(TAG_ROLE), bool(editor.list.item(row).data(REJECTED_ROLE)))
            for row in range(editor.list.count())
        ]

    qtbot.waitUntil(lambda: [tag for tag, _ in listed()] == ["cat", "sofa", "red"], timeout=10_000)
    # The vocabularies and facets follow the edit: the new tags are offered and counted.
    qtbot.waitUntil(lambda: "sofa" in editor.project_tags, timeout=10_000)
    qtbot.waitUntil(lambda: "tag:sofa" in window.search_bar.completer.words.stringList(), timeout=10_000)
    qtbot.waitUntil(lambda: "sofa" in window.facets.tag_names(), timeout=10_000)

    editor.list.setCurrentRow(0)
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(editor.list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: listed() == [("cat", True), ("sofa", False), ("red", False)], timeout=10_000)
    assert editor.list.currentRow() == 1, "the selection moved on to the next tag"
    qtbot.waitUntil(lambda: window.model.item(0).tags == ("sofa", "red"), timeout=10_000)  # grid tooltip
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(editor.list, Qt.Key.Key_Delete)  # Delete again: the next tag, not "cat"
    qtbot.waitUntil(lambda: listed() == [("cat", True), ("sofa", True), ("red", False)], timeout=10_000)
    assert editor.list.currentRow() == 2

    editor.input.setFocus()
    assert editor.input.text() == ""
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        qtbot.keyClick(editor.input, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: listed() == [("cat", True), ("sofa", False), ("red", False)], timeout=10_000)
    rejected = {t["tag"] for t in _stored(config, image_id)["tags"] if t["rejected_at"]}
    assert rejected == {"cat"}
