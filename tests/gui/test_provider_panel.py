"""The settings' vision-LLM servers tab on real widgets: add a server, test it in a worker, pick models."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from lorairo.gui.dialogs.settings_dialog import SettingsDialog
from lorairo.services.configuration_service import ConfigurationService
from tests.providers.fake_llm_server import running


def test_add_test_and_pick_models(qtbot: QtBot, config: ConfigurationService) -> None:
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    panel = dialog.provider_panel
    with running() as server:
        panel.name.setText("lab")
        panel.url.setCurrentText("not a url")
        panel.add_server()
        assert panel.status.text().startswith("Not added") and "lab" not in config.config.ai_providers
        assert server.raw == []

        panel.url.setCurrentText(server.openai_base_url)
        panel.add_server()
        assert ConfigurationService(config.path).config.ai_providers["lab"].base_url == server.openai_base_url
        assert panel.providers.currentItem().text() == "lab"
        assert server.raw == []  # adding never contacts the server

        panel.test_selected()
        qtbot.waitUntil(lambda: "reachable" in panel.status.text(), timeout=20_000)
        labels = [panel.models.item(row).text() for row in range(panel.models.count())]
        assert labels == ["qwen-test (vision)", "text-only (no vision)", "unsaid"]
        panel.models.item(0).setCheckState(Qt.CheckState.Checked)
        panel.models.item(2).setCheckState(Qt.CheckState.Checked)
        panel.pin_checked()
    assert ConfigurationService(config.path).config.ai_providers["lab"].models == ["qwen-test", "unsaid"]


def test_an_unreachable_server_is_reported_not_raised(qtbot: QtBot, config: ConfigurationService) -> None:
    dialog = SettingsDialog(config)
    qtbot.addWidget(dialog)
    panel = dialog.provider_panel
    with running() as server:
        url = server.openai_base_url
    panel.name.setText("gone")
    panel.url.setCurrentText(url)  # the server has stopped: nothing listens there now
    panel.add_server()
    panel.test_selected()
    qtbot.waitUntil(lambda: "not usable" in panel.status.text(), timeout=20_000)
    assert panel.test_button.isEnabled()
