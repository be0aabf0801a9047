"""The export dialog: every `ExportOptions` choice, the `.txt`/`.caption` the current image would
get, and how many images would be exported, both recomputed (in a worker) as options change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lorairo.errors import LoRAIroException
from lorairo.export.options import FORMATS, ExportOptions, parse_pairs
from lorairo.gui.workers import Task, TaskRunner
from lorairo.services.export_service import ExportPreview, ExportReport, ExportService
from lorairo.services.progress import CancelToken, ProgressCallback

ALL_MODELS = "(all models)"


@dataclass(frozen=True)
class ExportScope:
    selection_count: int
    result_count: int
    query: str
    resolve_selection: Callable[[], list[int]]
    preview_image_id: int | None


def build_options(values: dict[str, Any], ids: tuple[int, ...] | None) -> ExportOptions:
    """Options from a snapshot of the dialog; `ids` is the resolved selection when it has one."""
    chosen = {key: value for key, value in values.items() if key != "selection"}
    if "selection" in values:
        chosen["ids"] = ids or (0,)
    return ExportOptions(**chosen)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class ExportDialog(QDialog):
    exported = Signal(object)  # ExportReport
    run_started = Signal(object)  # Task

    def __init__(
        self, service: ExportService, runner: TaskRunner, scope: ExportScope, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export — {service.project.name}")
        self.service = service
        self.runner = runner
        self.scope = scope
        self.task: Task | None = None
        self._generation = 0
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(200)
        self._refresh.timeout.connect(self.update_preview)

        self.on_selection = QRadioButton(f"Selected images ({scope.selection_count:,})")
        self.on_result = QRadioButton(f"Current result ({scope.result_count:,})")
        self.on_all = QRadioButton("Whole project")
        group = QButtonGroup(self)
        for button in (self.on_selection, self.on_result, self.on_all):
            group.addButton(button)
            button.toggled.connect(self._changed)
        self.on_selection.setEnabled(scope.selection_count > 0)
        (self.on_result if scope.query else self.on_all).setChecked(True)

        self.formats = {name: QCheckBox(name) for name in FORMATS}
        self.formats["kohya"].setChecked(True)
        self.target = QLineEdit(str(service.default_target()))
        pick = QPushButton("…")
        pick.setMaximumWidth(36)
        pick.clicked.connect(self._pick_target)
        self.resolution = self._combo(["original", "512", "768", "1024"])
        self.image_format = self._combo(["keep", "webp", "png", "jpg"])
        self.naming = self._combo(["stem", "id", "sequence"])
        self.link = self._check("Hard-link images instead of copying")
        self.overwrite = self._check("Replace an existing export folder")
        self.full_path = self._check("Full image paths in JSON/JSONL")
        self.dataset_toml = self._check("Write a kohya dataset.toml")
        self.num_repeats = self._spin(1, 1000, 1)

        self.tags_from = self._combo([ALL_MODELS])
        self.text_mode = self._combo(["tags", "caption", "append"])
        self.caption = self._combo(["manual", "newest", "none"])
        self.general_threshold = self._threshold()
        self.character_threshold = self._threshold()
        self.max_tags = self._spin(0, 500, 0)
        self.max_tags.setSpecialValueText("no limit")
        self.order = self._combo(["manual", "confidence", "frequency", "alphabet"])
        self.character_first = self._check("Character tags first")
        self.trigger = self._line("ohwx woman, another trigger")
        self.keep_tokens = self._spin(-1, 100, -1)
        self.keep_tokens.setSpecialValueText("auto (trigger words)")
        self.keep_tokens_separator = self._check("Split the fixed prefix with '|||'")
        self.rating_tag = self._check("Add rating:<rating>")
        self.quality_tags = self._check("Add a quality tag from the score")
        self.underscores = self._check("long_hair instead of long hair")
        self.escape_parens = self._check(r"Escape parentheses \( \)")
        self.drop_meta = self._check("Leave out meta tags")
        self.exclude_tags = self._line("tags left out of this export")
        self.replace_tags = self._line("old=new, other=replacement")

        self.count_label = QLabel("Counting…")
        self.preview_title = QLabel("")
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setMaximumHeight(140)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #d04040;")
        self.error.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setValue(0)
        self.export_button = QPushButton("Export")
        self.export_button.clicked.connect(self.start)
        close = QPushButton("Close")
        close.clicked.connect(self.close)

        scope_box = QGroupBox("Images")
        scope_layout = QVBoxLayout(scope_box)
        for button in (self.on_selection, self.on_result, self.on_all):
            scope_layout.addWidget(button)
        output = QGroupBox("Output")
        out_form = QFormLayout(output)
        format_row = QHBoxLayout()
        for box in self.formats.values():
            format_row.addWidget(box)
        out_form.addRow("Formats", format_row)
        target_row = QHBoxLayout()
        target_row.addWidget(self.target, 1)
        target_row.addWidget(pick)
        out_form.addRow("Folder", target_row)
        out_form.addRow("Resolution", self.resolution)
        out_form.addRow("Image format", self.image_format)
        out_form.addRow("File names", self.naming)
        out_form.addRow("Repeats", self.num_repeats)
        for box in (self.dataset_toml, self.link, self.overwrite, self.full_path):
            out_form.addRow("", box)
        text = QGroupBox("Text")
        text_form = QFormLayout(text)
        text_form.addRow("Tags from", self.tags_from)
        text_form.addRow("Text mode", self.text_mode)
        text_form.addRow("Caption", self.caption)
        text_form.addRow("Min general conf.", self.general_threshold)
        text_form.addRow("Min character conf.", self.character_threshold)
        text_form.addRow("Max tags", self.max_tags)
        text_form.addRow("Order", self.order)
        text_form.addRow("Trigger words", self.trigger)
        text_form.addRow("Keep tokens", self.keep_tokens)
        text_form.addRow("Exclude tags", self.exclude_tags)
        text_form.addRow("Replace tags", self.replace_tags)
        for box in (
            self.character_first,
            self.keep_tokens_separator,
            self.rating_tag,
            self.quality_tags,
            self.underscores,
            self.escape_parens,
            self.drop_meta,
        ):
            text_form.addRow("", box)

        left = QVBoxLayout()
        left.addWidget(scope_box)
        left.addWidget(output)
        left.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addWidget(text, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label, 1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.preview_title)
        layout.addWidget(self.preview)
        layout.addWidget(self.error)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        self.resize(900, 760)
        for push in self.findChildren(QPushButton):
            push.setAutoDefault(False)  # Enter in a field must not press Remove or a picker
        self._load_models()
        self._changed()

    # -- builders --------------------------------------------------------------------------

    def _combo(self, items: list[str]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(items)
        combo.currentIndexChanged.connect(self._changed)
        return combo

    def _check(self, text: str) -> QCheckBox:
        box = QCheckBox(text)
        box.toggled.connect(self._changed)
        return box

    def _spin(self, low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        spin.valueChanged.connect(self._changed)
        return spin

    def _threshold(self) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0, 1)
        spin.setSingleStep(0.05)
        spin.setSpecialValueText("as annotated")
        spin.valueChanged.connect(self._changed)
        return spin

    def _line(self, placeholder: str) -> QLineEdit:
        line = QLineEdit()
        line.setPlaceholderText(placeholder)
        line.textChanged.connect(self._changed)
        return line

    def _pick_target(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Export into", self.target.text())
        if chosen:
            self.target.setText(chosen)

    def _load_models(self) -> None:
        service = self.service
        self.runner.start("models", lambda _p, _c: sorted(service.model_names()), self._models_loaded)

    def _models_loaded(self, names: list[str]) -> None:
        for name in names:
            self.tags_from.addItem(name)
            self.caption.addItem(name)

    # -- options ---------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """The widgets' state, read on the GUI thread; workers build options from this copy."""
        resolution = self.resolution.currentText()
        thresholds = {
            category: spin.value()
            for category, spin in (
                ("general", self.general_threshold),
                ("character", self.character_threshold),
            )
            if spin.value() > 0
        }
        values: dict[str, Any] = {
            "target": Path(self.target.text()).expanduser() if self.target.text().strip() else None,
            "formats": tuple(name for name, box in self.formats.items() if box.isChecked()),
            "resolution": None if resolution == "original" else int(resolution),
            "tags_from": None
            if self.tags_from.currentText() == ALL_MODELS
            else (self.tags_from.currentText(),),
            "thresholds": thresholds,
            "max_tags": self.max_tags.value() or None,
            "order": self.order.currentText(),
            "character_first": self.character_first.isChecked(),
            "trigger": _split(self.trigger.text()),
            "keep_tokens": None if self.keep_tokens.value() < 0 else self.keep_tokens.value(),
            "keep_tokens_separator": self.keep_tokens_separator.isChecked(),
            "rating_tag": self.rating_tag.isChecked(),
            "quality_tags": self.quality_tags.isChecked(),
            "underscores": self.underscores.isChecked(),
            "escape_parens": self.escape_parens.isChecked(),
            "drop_meta": self.drop_meta.isChecked(),
            "exclude_tags": _split(self.exclude_tags.text()),
            "replace_tags": parse_pairs(self.replace_tags.text(), "replace tags"),
            "caption": self.caption.currentText(),
            "text_mode": self.text_mode.currentText(),
            "full_path": self.full_path.isChecked(),
            "naming": self.naming.currentText(),
            "link": self.link.isChecked(),
            "image_format": None
            if self.image_format.currentText() == "keep"
            else self.image_format.currentText(),
            "dataset_toml": self.dataset_toml.isChecked(),
            "num_repeats": self.num_repeats.value(),
            "overwrite": self.overwrite.isChecked(),
        }
        if self.on_result.isChecked() and self.scope.query:
            values["query"] = self.scope.query
        return values

    def options(self) -> ExportOptions:
        """The chosen options, validated (a selection stands in as a placeholder id)."""
        return build_options(self._snapshot(), None)

    def _snapshot(self) -> dict[str, Any]:
        values = self.values()
        if self.on_selection.isChecked():
            values["selection"] = True
        return values

    def _changed(self) -> None:
        self._refresh.start()

    def update_preview(self) -> None:
        """Recount and re-render the preview for the current options (in a worker)."""
        self._generation += 1
        generation = self._generation
        try:
            self.options()
        except (LoRAIroException, ValueError) as exc:
            self.error.setText(str(exc))
            self.export_button.setEnabled(False)
            return
        self.error.setText("")
        self.export_button.setEnabled(self.task is None or self.task.done)
        service, preview_id, values = self.service, self.scope.preview_image_id, self._snapshot()
        resolve = self.scope.resolve_selection

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[int, ExportPreview | None]:
            options = build_options(values, tuple(resolve()) if "selection" in values else None)
            preview = service.preview(preview_id, options) if preview_id is not None else None
            return service.count(options), preview

        self.runner.start(
            "export preview",
            work,
            lambda result: self._show_preview(generation, result),
            lambda exc: self.error.setText(str(exc)),
        )

    def _show_preview(self, generation: int, result: tuple[int, ExportPreview | None]) -> None:
        if generation != self._generation:
            return
        count, preview = result
        self.count_label.setText(f"{count:,} image{'s' if count != 1 else ''} would be exported")
        if preview is None:
            self.preview_title.setText("Select an image to preview its text file.")
            self.preview.clear()
            return
        self.preview_title.setText(f"Image #{preview.image_id} would get {preview.extension}:")
        parts = [preview.text or ""]
        if preview.caption:
            parts.append(f"\n.caption:\n{preview.caption}")
        if preview.skip_reason:
            parts.append(f"\n(skipped: {preview.skip_reason})")
        self.preview.setPlainText("\n".join(parts))

    # -- export ----------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self.options()
        except (LoRAIroException, ValueError) as exc:
            self.error.setText(str(exc))
            return
        service, values = self.service, self._snapshot()
        resolve = self.scope.resolve_selection

        def work(progress: ProgressCallback, cancel: CancelToken) -> ExportReport:
            options = build_options(values, tuple(resolve()) if "selection" in values else None)
            return service.export(options, progress=progress, cancel=cancel)

        self.export_button.setEnabled(False)
        self.task = self.runner.start("export", work, self._exported, self._failed)
        self.task.progressed.connect(self._progress)
        self.run_started.emit(self.task)

    def _progress(self, done: int, total: object, message: str) -> None:
        if isinstance(total, int) and total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        self.count_label.setText(f"{done:,} / {total or '?'} · {message}")

    def _exported(self, report: ExportReport) -> None:
        self.export_button.setEnabled(True)
        skipped = ", ".join(f"{count:,} {reason}" for reason, count in report.skipped.items())
        self.count_label.setText(
            f"Exported {report.exported:,} images to {report.target}"
            + (f" (skipped: {skipped})" if skipped else "")
        )
        self.exported.emit(report)

    def _failed(self, exc: BaseException) -> None:
        self.export_button.setEnabled(True)
        self.error.setText(f"Export failed: {exc}")
