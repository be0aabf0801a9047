"""The settings' vision-LLM servers tab: add a server, test it, pick the models to offer.

Testing asks the server for its model list in a worker thread (the window never waits on the
network); the well-known local ports are offered in the URL box, never probed until "Test".
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from image_annotator_lib.providers.discovery import ServerModels
from image_annotator_lib.providers.local_servers import WELL_KNOWN_LOCAL_SERVERS
from lorairo.errors import LoRAIroException
from lorairo.gui.workers import Task, TaskRunner
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.provider_service import ProviderService


class ProviderPanel(QWidget):
    def __init__(self, config: ConfigurationService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.service = ProviderService(config)
        self.runner = TaskRunner(self, max_threads=1)
        self.task: Task | None = None

        self.providers = QListWidget()
        self.providers.currentTextChanged.connect(self._selected)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. ollama")
        self.url = QComboBox()
        self.url.setEditable(True)
        self.url.addItems(list(WELL_KNOWN_LOCAL_SERVERS.values()))
        self.url.setCurrentText("")
        self.key_env = QLineEdit()
        self.key_env.setPlaceholderText("environment variable with the key (optional)")
        add = QPushButton("Add server")
        add.clicked.connect(self.add_server)
        self.test_button = QPushButton("Test / list models")
        self.test_button.clicked.connect(self.test_selected)
        self.models = QListWidget()
        pin = QPushButton("Offer checked models")
        pin.clicked.connect(self.pin_checked)
        self.status = QLabel("Pick a provider and test it, or add a local server.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("URL", self.url)
        form.addRow("Key variable", self.key_env)
        form.addRow("", add)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(pin)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Providers"))
        layout.addWidget(self.providers)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Models (checked = offered; unchecked all = the server's list is used)"))
        layout.addWidget(self.models)
        layout.addWidget(self.status)
        self.refresh()

    def refresh(self) -> None:
        current = self.providers.currentItem()
        keep = current.text() if current else None
        self.providers.clear()
        for status in self.service.list(contact=False):
            self.providers.addItem(status.name)
        if keep:
            matches = self.providers.findItems(keep, Qt.MatchFlag.MatchExactly)
            if matches:
                self.providers.setCurrentItem(matches[0])

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #d04040;" if error else "")

    def _selected(self, name: str) -> None:
        self.models.clear()
        if name:
            pinned = self.service.status(name, contact=False).pinned
            self._say(f"{name}: {len(pinned)} pinned models. Test to read the server's list.")

    def add_server(self) -> None:
        name, url = self.name.text().strip(), self.url.currentText().strip()
        try:
            added = self.service.add(name, url, self.key_env.text().strip() or None)
        except LoRAIroException as exc:
            self._say(f"Not added: {exc}", error=True)
            return
        self.name.clear()
        self.refresh()
        matches = self.providers.findItems(name, Qt.MatchFlag.MatchExactly)
        if matches:
            self.providers.setCurrentItem(matches[0])
        self._say(f"Added {name} at {added['base_url']}. Test it to list its models.")

    def test_selected(self) -> None:
        item = self.providers.currentItem()
        if item is None or (self.task is not None and not self.task.done):
            return
        name = item.text()
        self.test_button.setEnabled(False)
        self._say(f"Asking {name} for its models…")
        self.task = self.runner.start(
            f"test {name}",
            lambda _progress, _cancel: self.service.models(name),
            on_success=lambda found: self._show_models(name, found),
            on_error=lambda exc: self._tested_badly(name, exc),
        )

    def _tested_badly(self, name: str, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        self._say(f"{name} is not usable: {exc}", error=True)

    def _show_models(self, name: str, found: ServerModels) -> None:
        self.test_button.setEnabled(True)
        pinned = set(self.service.status(name, contact=False).pinned)
        self.models.clear()
        for model in found.models:
            mark = {True: " (vision)", False: " (no vision)", None: ""}[model.vision]
            item = QListWidgetItem(model.id + mark)
            item.setData(Qt.ItemDataRole.UserRole, model.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if model.id in pinned else Qt.CheckState.Unchecked)
            self.models.addItem(item)
        slots = f", {found.parallel_slots} parallel slots" if found.parallel_slots else ""
        self._say(f"{name} is reachable: {len(found.models)} models{slots}.")

    def checked_models(self) -> list[str]:
        items = (self.models.item(row) for row in range(self.models.count()))
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in items
            if item.checkState() == Qt.CheckState.Checked
        ]

    def pin_checked(self) -> None:
        item = self.providers.currentItem()
        if item is None:
            return
        try:
            self.config.update_setting(f"ai_providers.{item.text()}", "models", self.checked_models())
        except LoRAIroException as exc:
            self._say(f"Not saved: {exc}", error=True)
            return
        self._say(f"{item.text()}: offering {len(self.checked_models())} models.")
