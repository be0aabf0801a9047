"""The settings window over `ConfigurationService`: every change is validated and saved at once.

API keys and the Hugging Face token are never put back into a text field: the field stays empty
and only the masked form (`sk-p***abcd`) is shown, so a key cannot be read off the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lorairo.config import LOG_LEVELS
from lorairo.errors import LoRAIroException
from lorairo.gui.theme import THEMES
from lorairo.gui.widgets.provider_panel import ProviderPanel
from lorairo.services.configuration_service import ConfigurationService
from lorairo.utils.masking import mask_api_key

SECRETS = (
    ("api", "openai_key", "OpenAI key"),
    ("api", "claude_key", "Anthropic key"),
    ("api", "google_key", "Google key"),
)
DIRECTORIES = (
    ("directories", "database_dir", "Projects folder"),
    ("directories", "export_dir", "Export folder"),
    ("directories", "batch_results_dir", "Batch results folder"),
    ("tags", "db_dir", "Tag database folder"),
)
DEVICES = ("auto", "cpu", "cuda", "directml", "coreml")


class SettingsDialog(QDialog):
    saved = Signal(str, str)  # section, key: a setting was validated and written

    def __init__(self, config: ConfigurationService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.config = config
        self.status = QLabel(f"Saved to {config.path}")
        self.status.setWordWrap(True)
        self.secret_labels: dict[tuple[str, str], QLabel] = {}
        self.secret_inputs: dict[tuple[str, str], QLineEdit] = {}
        self.fields: dict[tuple[str, str], QWidget] = {}
        self._reverts: dict[tuple[str, str], Callable[[], None]] = {}

        tabs = QTabWidget()
        tabs.addTab(self._keys_tab(), "API keys")
        tabs.addTab(self._directories_tab(), "Directories")
        tabs.addTab(self._thresholds_tab(), "Annotation && images")
        tabs.addTab(self._general_tab(), "General")
        self.provider_panel = ProviderPanel(config)
        tabs.addTab(self.provider_panel, "Vision-LLM servers")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(620, 440)
        for push in self.findChildren(QPushButton):
            push.setAutoDefault(False)  # Enter in a field must not press Remove or a picker

    # -- saving ----------------------------------------------------------------------------

    def save(self, section: str, key: str, value: Any) -> bool:
        """Validate and write one setting; on a bad value show why and put the old value back."""
        try:
            self.config.update_setting(section, key, value)
        except (LoRAIroException, ValueError) as exc:
            self.status.setText(f"Not saved: {exc}")
            self.status.setStyleSheet("color: #d04040;")
            revert = self._reverts.get((section, key))
            if revert is not None:
                revert()
            return False
        self.status.setText(f"Saved {section}.{key}")
        self.status.setStyleSheet("")
        self.saved.emit(section, key)
        return True

    def current(self, section: str, key: str) -> Any:
        return self.config.get_setting(section, key)

    # -- tabs ------------------------------------------------------------------------------

    def _keys_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        for section, key, label in (*SECRETS, ("huggingface", "token", "Hugging Face token")):
            shown = QLabel()
            entry = QLineEdit()
            entry.setEchoMode(QLineEdit.EchoMode.Password)
            entry.editingFinished.connect(lambda s=section, k=key: self._save_secret(s, k))
            clear = QPushButton("Remove")
            clear.clicked.connect(lambda _c=False, s=section, k=key: self._remove_secret(s, k))
            self.secret_labels[(section, key)] = shown
            self.secret_inputs[(section, key)] = entry
            row = QHBoxLayout()
            row.addWidget(shown)
            row.addWidget(entry, 1)
            row.addWidget(clear)
            form.addRow(label, row)
            self._show_secret(section, key)
        for key, label in (("hf_username", "Hugging Face user"), ("repo_name", "Hugging Face repo")):
            form.addRow(label, self._text("huggingface", key))
        form.addRow(QLabel("Keys are stored in lorairo.toml (mode 0600) and shown masked only."))
        return page

    def _show_secret(self, section: str, key: str) -> None:
        value = str(self.current(section, key) or "")
        masked = mask_api_key(value) if value else "not set"
        self.secret_labels[(section, key)].setText(masked)
        self.secret_inputs[(section, key)].setPlaceholderText(
            "type a new value and press Enter" if value else "paste the key and press Enter"
        )

    def _save_secret(self, section: str, key: str) -> None:
        entry = self.secret_inputs[(section, key)]
        value = entry.text().strip()
        if not value:
            return
        entry.clear()
        self.save(section, key, value)
        self._show_secret(section, key)

    def _remove_secret(self, section: str, key: str) -> None:
        self.save(section, key, "")
        self._show_secret(section, key)

    def _directories_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        for section, key, label in DIRECTORIES:
            entry = self._text(section, key)
            pick = QPushButton("…")
            pick.clicked.connect(lambda _c=False, s=section, k=key, e=entry: self._pick_directory(s, k, e))
            row = QHBoxLayout()
            row.addWidget(entry, 1)
            row.addWidget(pick)
            form.addRow(label, row)
        form.addRow("Default project", self._text("directories", "database_project_name"))
        return page

    def _pick_directory(self, section: str, key: str, entry: QLineEdit) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", entry.text())
        if chosen:
            entry.setText(chosen)
            self.save(section, key, chosen)

    def _thresholds_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("General tag threshold", self._number("annotation", "general_threshold", 0, 1, 0.05))
        form.addRow("Character tag threshold", self._number("annotation", "character_threshold", 0, 1, 0.05))
        form.addRow("Storage floor", self._number("annotation", "storage_floor", 0, 1, 0.05))
        form.addRow("Annotation batch size", self._integer("annotation", "batch_size", 1, 1024))
        form.addRow("Device", self._choice("annotation", "device", DEVICES))
        form.addRow(
            "Near-duplicate distance", self._integer("image_processing", "near_duplicate_threshold", 0, 64)
        )
        form.addRow("Stored thumbnail size", self._integer("image_processing", "thumbnail_size", 32, 1024))
        form.addRow("Max file size (MB)", self._number("image_processing", "max_file_size_mb", 1, 10_000, 1))
        return page

    def _general_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.addRow("Log level", self._choice("log", "level", LOG_LEVELS))
        form.addRow("Log file", self._text("log", "file_path"))
        form.addRow("Workers (0 = all cores)", self._integer("resources", "max_workers", 0, 256))
        form.addRow("Rows per transaction", self._integer("resources", "batch_size", 1, 100_000))
        form.addRow("Grid thumbnail size", self._integer("gui", "thumbnail_size", 48, 512))
        form.addRow("Theme", self._choice("gui", "theme", THEMES))
        return page

    # -- field builders ----------------------------------------------------------------------

    def _text(self, section: str, key: str) -> QLineEdit:
        entry = QLineEdit(str(self.current(section, key) or ""))
        entry.editingFinished.connect(
            lambda: (
                entry.text() != str(self.current(section, key) or "")
                and self.save(section, key, entry.text().strip())
            )
        )
        self._reverts[(section, key)] = lambda: entry.setText(str(self.current(section, key) or ""))
        self.fields[(section, key)] = entry
        return entry

    def _integer(self, section: str, key: str, low: int, high: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(int(self.current(section, key)))
        spin.editingFinished.connect(
            lambda: spin.value() != self.current(section, key) and self.save(section, key, spin.value())
        )
        self._reverts[(section, key)] = lambda: spin.setValue(int(self.current(section, key)))
        self.fields[(section, key)] = spin
        return spin

    def _number(self, section: str, key: str, low: float, high: float, step: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setDecimals(2)
        spin.setValue(float(self.current(section, key)))
        spin.editingFinished.connect(
            lambda: (
                abs(spin.value() - float(self.current(section, key))) > 1e-9
                and self.save(section, key, spin.value())
            )
        )
        self._reverts[(section, key)] = lambda: spin.setValue(float(self.current(section, key)))
        self.fields[(section, key)] = spin
        return spin

    def _choice(self, section: str, key: str, choices: tuple[str, ...]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(choices))
        combo.setCurrentText(str(self.current(section, key)))
        combo.activated.connect(lambda _i: self.save(section, key, combo.currentText()))
        self._reverts[(section, key)] = lambda: combo.setCurrentText(str(self.current(section, key)))
        self.fields[(section, key)] = combo
        return combo
