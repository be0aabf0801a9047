"""Run annotators from the window: pick models (local ones with installed state; API ones only for
providers with a key, as `build_registry` lists them), what to run on, and the batch size; watch
images/s and ETA; see failures with reasons. Images a model refused for content policy before
are skipped unless the user explicitly asks to send them again, after a warning."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from image_annotator_lib.registry import ModelInfo
from lorairo.annotations.ai_annotator import get_available_annotator_models
from lorairo.gui.widgets.progress_panel import format_rate
from lorairo.gui.workers import Task, TaskRunner
from lorairo.services.annotation_service import AnnotationReport, AnnotationService, Selection
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.project_service import Project

MODEL_ROLE = Qt.ItemDataRole.UserRole + 1
FAILURES_SHOWN = 50


def describe_model(info: ModelInfo) -> str:
    if info.is_api:
        return f"{info.name}   ({info.kind}, API: {info.provider})"
    if info.installed:
        size = f", {info.size_bytes / 1e6:,.0f} MB" if info.size_bytes else ""
        return f"{info.name}   ({info.kind}, local, installed{size})"
    return f"{info.name}   ({info.kind}, local, not installed: downloads on first run)"


@dataclass(frozen=True)
class AnnotateScope:
    """The counts shown next to each choice, and how to get ids for the id-based ones."""

    selection_count: int
    result_count: int
    query: str
    resolve_selection: Callable[[], list[int]]
    resolve_result: Callable[[], list[int]]


class AnnotateDialog(QDialog):
    finished_run = Signal(object)  # AnnotationReport
    run_started = Signal(object)  # Task, for the progress panel

    def __init__(
        self,
        project: Project,
        config: ConfigurationService,
        runner: TaskRunner,
        scope: AnnotateScope,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Annotate — {project.name}")
        self.project = project
        self.config = config
        self.runner = runner
        self.scope = scope
        self.service: AnnotationService | None = None
        self.task: Task | None = None
        self.models = QListWidget()
        self.models.addItem("Loading models…")
        self.on_selection = QRadioButton(f"Selected images ({scope.selection_count:,})")
        self.on_result = QRadioButton(f"Current result ({scope.result_count:,})")
        self.on_missing = QRadioButton("Images a chosen model has not annotated yet (whole project)")
        self.on_all = QRadioButton("All images (replace earlier results)")
        group = QButtonGroup(self)
        for button in (self.on_selection, self.on_result, self.on_missing, self.on_all):
            group.addButton(button)
        self.on_selection.setEnabled(scope.selection_count > 0)
        (self.on_selection if scope.selection_count else self.on_missing).setChecked(True)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 1024)
        self.batch_size.setValue(config.config.annotation.batch_size)
        self.retry_violations = QCheckBox("Send images refused for content policy before again")
        self.bar = QProgressBar()
        self.bar.setValue(0)
        self.rate = QLabel("")
        self.failures = QPlainTextEdit()
        self.failures.setReadOnly(True)
        self.failures.setPlaceholderText("Failures and their reasons appear here.")
        self.run_button = QPushButton("Run")
        self.run_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setEnabled(False)
        close = QPushButton("Close")
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        close.clicked.connect(self.close)

        form = QFormLayout()
        form.addRow("Run on", self.on_selection)
        for button in (self.on_result, self.on_missing, self.on_all):
            form.addRow("", button)
        form.addRow("Batch size", self.batch_size)
        form.addRow("", self.retry_violations)
        buttons = QHBoxLayout()
        buttons.addWidget(self.rate, 1)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Models (API models appear for providers that have a key)"))
        layout.addWidget(self.models, 1)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        layout.addWidget(self.failures)
        self.resize(640, 560)
        for push in self.findChildren(QPushButton):
            push.setAutoDefault(False)  # Enter in a field must not press Remove or a picker
        self._load_models()

    # -- models ------------------------------------------------------------------------------

    def _load_models(self) -> None:
        project, config = self.project, self.config

        def load(_p: ProgressCallback, _c: CancelToken) -> tuple[AnnotationService, list[ModelInfo]]:
            service = AnnotationService(project, config)
            return service, get_available_annotator_models(service.registry)

        self.runner.start("list models", load, self._models_loaded, self._show_error)

    def _models_loaded(self, loaded: tuple[AnnotationService, list[ModelInfo]]) -> None:
        self.service, infos = loaded
        self.models.clear()
        for info in infos:
            item = QListWidgetItem(describe_model(info))
            item.setData(MODEL_ROLE, info.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.models.addItem(item)
        self.run_button.setEnabled(True)

    def chosen_models(self) -> list[str]:
        return [
            self.models.item(row).data(MODEL_ROLE)
            for row in range(self.models.count())
            if self.models.item(row).checkState() == Qt.CheckState.Checked
        ]

    def check_model(self, name: str) -> None:
        for row in range(self.models.count()):
            if self.models.item(row).data(MODEL_ROLE) == name:
                self.models.item(row).setCheckState(Qt.CheckState.Checked)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        models = self.chosen_models()
        if not models or self.service is None:
            self.rate.setText("Choose at least one model.")
            return
        service, scope = self.service, self.scope
        use_ids = self.on_selection.isChecked() or self.on_result.isChecked()
        resolve = scope.resolve_selection if self.on_selection.isChecked() else scope.resolve_result
        mode: Selection = "all" if self.on_all.isChecked() else "missing"
        size = self.batch_size.value()
        if not self.retry_violations.isChecked() or not use_ids:
            self._run(models, resolve if use_ids else None, mode, size)
            return

        def count_refused(_p: ProgressCallback, _c: CancelToken) -> dict[str, int]:
            ids = resolve()
            return {name: len(service.repository.check_policy_violations(ids, name)) for name in models}

        self.runner.start(
            "check refusals",
            count_refused,
            lambda refused: self._confirm_resend(refused, models, resolve, mode, size),
            self._show_error,
        )

    def _confirm_resend(
        self,
        refused: dict[str, int],
        models: list[str],
        resolve: Callable[[], list[int]],
        mode: Selection,
        size: int,
    ) -> None:
        lines = [f"{name}: {count:,} image(s)" for name, count in refused.items() if count]
        if lines:
            answer = QMessageBox.warning(
                self,
                "Content policy refusals",
                "These images were refused for content policy by the model before:\n\n"
                + "\n".join(lines)
                + "\n\nSending them again costs requests and may affect your account. Send them again?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.retry_violations.setChecked(False)
        self._run(models, resolve, mode, size)

    def _run(
        self, models: list[str], resolve: Callable[[], list[int]] | None, mode: Selection, size: int
    ) -> None:
        assert self.service is not None
        service = self.service
        retry = self.retry_violations.isChecked()

        def work(progress: ProgressCallback, cancel: CancelToken) -> AnnotationReport:
            selection: Selection = resolve() if resolve is not None else mode
            return service.run(
                models, selection, size, progress=progress, cancel=cancel, retry_violations=retry
            )

        self.failures.clear()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.started = time.monotonic()
        self.task = self.runner.start("annotate", work, self._finished, self._show_error)
        self.task.progressed.connect(self._progress)
        self.task.finished.connect(self._task_done)
        self.run_started.emit(self.task)

    def _progress(self, done: int, total: object, message: str) -> None:
        known = total if isinstance(total, int) else None
        if known:
            self.bar.setRange(0, known)
            self.bar.setValue(min(done, known))
        rate = format_rate(done, time.monotonic() - self.started, known, "images")
        self.rate.setText(
            f"{message}: {done:,}" + (f" / {known:,}" if known else "") + (f" · {rate}" if rate else "")
        )

    def _finished(self, report: AnnotationReport) -> None:
        per_model = "; ".join(
            f"{m.name}: {m.annotated:,} annotated, {m.failures:,} failed ({m.annotated / m.seconds if m.seconds else 0:.1f} images/s)"
            for m in report.per_model
        )
        state = "Stopped early (committed batches kept). " if report.cancelled else ""
        skipped = (
            f" {report.violations_skipped:,} refused before, skipped." if report.violations_skipped else ""
        )
        self.rate.setText(f"{state}{per_model}{skipped}")
        self.finished_run.emit(report)
        if report.failures:
            self._load_failures(report)

    def _load_failures(self, report: AnnotationReport) -> None:
        assert self.service is not None
        repository, names = self.service.repository, [m.name for m in report.per_model]

        def load(_p: ProgressCallback, _c: CancelToken) -> list[str]:
            lines = []
            for name in names:
                total, rows = repository.list_failures(name, limit=FAILURES_SHOWN)
                lines += [
                    f"{row.model_name}: #{row.image_id} {row.image_name}: {row.reason}"
                    + (f" — {row.message}" if row.message else "")
                    + (" (content policy)" if row.is_policy_violation else "")
                    for row in rows
                ]
                if total > len(rows):
                    lines.append(f"… and {total - len(rows):,} more for {name}")
            return lines

        self.runner.start("failures", load, lambda lines: self.failures.setPlainText("\n".join(lines)))

    def _task_done(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _show_error(self, exc: BaseException) -> None:
        self.rate.setText(f"Error: {exc}")
        self.failures.setPlainText(str(exc))

    def cancel(self) -> None:
        if self.task is not None and not self.task.done:
            self.task.cancel()
            self.rate.setText("Cancelling after the current batch…")
