"""Dragging a tag in the inspector's editor stores the new order as an edit; Ctrl+Z restores it."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QAbstractItemView
from pytestqt.qtbot import QtBot

from lorairo.gui.main_window import MainWindow
from lorairo.gui.widgets.tag_editor import TAG_ROLE
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from lorairo.services.search_service import SearchService
from tests.gui.conftest import PROJECT


def _stored_order(config: ConfigurationService, image_id: int) -> list[str]:
    """Read through a separate connection, not the window."""
    project = ProjectService(config).open(PROJECT)
    try:
        return [row["tag"] for row in SearchService(project).details([image_id])[0]["tags"]]
    finally:
        project.close()


def test_moving_a_tag_row_stores_the_order_and_undo_restores_it(
    qtbot: QtBot, window: MainWindow, config: ConfigurationService
) -> None:
    window.grid.select_rows([0])
    image_id = window.model.item(0).id
    qtbot.waitUntil(lambda: window.inspector.image_id == image_id, timeout=10_000)
    editor = window.inspector.tag_editor
    assert editor.list.dragDropMode() == QAbstractItemView.DragDropMode.InternalMove
    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        editor.add_requested.emit(["sofa", "red"])
    assert _stored_order(config, image_id) == ["cat", "sofa", "red"]

    def listed() -> list[str]:
        return [editor.list.item(row).data(TAG_ROLE) for row in range(editor.list.count())]

    qtbot.waitUntil(lambda: listed() == ["cat", "sofa", "red"], timeout=10_000)

    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        assert editor.list.model().moveRow(QModelIndex(), 2, QModelIndex(), 0)  # what a drop does
    assert _stored_order(config, image_id) == ["red", "cat", "sofa"]
    qtbot.waitUntil(lambda: listed() == ["red", "cat", "sofa"], timeout=10_000)

    with qtbot.waitSignal(window.session.edited, timeout=30_000):
        window.actions_by_name["undo"].trigger()
    assert _stored_order(config, image_id) == ["cat", "sofa", "red"]
    qtbot.waitUntil(lambda: listed() == ["cat", "sofa", "red"], timeout=10_000)
