"""Bulk tag edits on the selection or the whole result: a dry run's counts first, then Apply.

The dry run and the applied edit are the same `EditService` call (only `apply` differs), so the
count shown is what Apply writes. Applied edits land in the edit log: Ctrl+Z undoes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QCompleter,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from lorairo.gui.workers import TaskRunner
from lorairo.services.edit_service import EditReport, EditService, EditTarget
from lorairo.services.progress import CancelToken, ProgressCallback

OPERATIONS = (
    ("add", "Add tags"),
    ("remove", "Remove tags"),
    ("replace", "Replace a tag"),
    ("reject", "Reject tags"),
    ("restore", "Restore rejected tags"),
)


def run_edit(
    service: EditService,
    operation: str,
    target: EditTarget,
    tags: list[str],
    replacement: str,
    position: str,
    *,
    apply: bool,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> EditReport:
    """One bulk operation by name, as the dialog's worker runs it."""
    common: dict[str, Any] = {"apply": apply, "progress": progress, "cancel": cancel}
    if operation == "add":
        return service.add_tags(target, tags, position="front" if position == "front" else "back", **common)
    if operation == "remove":
        return service.remove_tags(target, tags, **common)
    if operation == "replace":
        return service.replace_tag(target, tags[0] if tags else "", replacement, **common)
    return service.reject_tags(target, tags, restore=operation == "restore", **common)


class BulkEditDialog(QDialog):
    applied = Signal(object)  # EditReport

    def __init__(
        self,
        service: EditService,
        runner: TaskRunner,
        *,
        query: str,
        result_count: int,
        selection_count: int,
        resolve_selection: Callable[[], list[int]],
        tag_words: list[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Bulk edit tags")
        self.service = service
        self.runner = runner
        self.query = query or "all"
        self.resolve_selection = resolve_selection
        self.checked: tuple[Any, ...] | None = None
        self.operation = QComboBox()
        for key, label in OPERATIONS:
            self.operation.addItem(label, key)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("tag, another tag (wildcards * ? allowed for remove)")
        self.tags.setCompleter(QCompleter(tag_words, self))
        self.replacement = QLineEdit()
        self.replacement.setPlaceholderText("new tag")
        self.position = QComboBox()
        self.position.addItems(["back", "front"])
        self.scope_selection = QRadioButton(f"Selected images ({selection_count:,})")
        self.scope_result = QRadioButton(f"Whole result ({result_count:,}): {self.query}")
        group = QButtonGroup(self)
        group.addButton(self.scope_selection)
        group.addButton(self.scope_result)
        (self.scope_selection if selection_count else self.scope_result).setChecked(True)
        self.scope_selection.setEnabled(selection_count > 0)
        self.outcome = QLabel("Run a dry run to see what would change.")
        self.outcome.setWordWrap(True)
        self.dry_button = QPushButton("Dry run")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        close = QPushButton("Close")
        self.dry_button.clicked.connect(lambda: self.run(apply=False))
        self.apply_button.clicked.connect(lambda: self.run(apply=True))
        close.clicked.connect(self.reject)
        for widget in (self.tags, self.replacement):
            widget.textChanged.connect(self._invalidate)
        for combo in (self.operation, self.position):
            combo.currentIndexChanged.connect(self._invalidate)
        self.scope_selection.toggled.connect(self._invalidate)
        self.operation.currentIndexChanged.connect(self._update_fields)

        form = QFormLayout()
        form.addRow("Operation", self.operation)
        form.addRow("Tags", self.tags)
        form.addRow("Replace with", self.replacement)
        form.addRow("Position", self.position)
        form.addRow("Apply to", self.scope_selection)
        form.addRow("", self.scope_result)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.dry_button)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.outcome)
        layout.addLayout(buttons)
        self._update_fields()
        for button in (self.apply_button, close):
            button.setAutoDefault(False)  # Enter runs the dry run, never Apply
        self.dry_button.setDefault(True)
        self.resize(560, 300)

    def _update_fields(self) -> None:
        operation = self.operation.currentData()
        self.replacement.setEnabled(operation == "replace")
        self.position.setEnabled(operation == "add")

    def _parameters(self) -> tuple[Any, ...]:
        tags = tuple(part.strip() for part in self.tags.text().split(",") if part.strip())
        return (
            self.operation.currentData(),
            tags,
            self.replacement.text().strip(),
            self.position.currentText(),
            self.scope_selection.isChecked(),
        )

    def _invalidate(self) -> None:
        self.checked = None
        self.apply_button.setEnabled(False)

    def run(self, *, apply: bool) -> None:
        parameters = self._parameters()
        operation, tags, replacement, position, on_selection = parameters
        service, query, resolve = self.service, self.query, self.resolve_selection

        def work(progress: ProgressCallback, cancel: CancelToken) -> EditReport:
            target = EditTarget(ids=tuple(resolve())) if on_selection else EditTarget(query=query)
            return run_edit(
                service,
                operation,
                target,
                list(tags),
                replacement,
                position,
                apply=apply,
                progress=progress,
                cancel=cancel,
            )

        self.dry_button.setEnabled(False)
        self.apply_button.setEnabled(False)
        self.outcome.setText("Applying…" if apply else "Counting…")
        task = self.runner.start(
            "bulk edit" if apply else "dry run",
            work,
            lambda report: self._done(report, parameters),
            self._failed,
        )
        task.progressed.connect(
            lambda done, total, _m: self.outcome.setText(f"{done:,} / {total or '?'} images…")
        )

    def _done(self, report: EditReport, parameters: tuple[Any, ...]) -> None:
        self.dry_button.setEnabled(True)
        rows = f"+{report.rows_inserted:,} / ~{report.rows_updated:,} / -{report.rows_deleted:,} rows"
        if report.applied:
            self.outcome.setText(
                f"Applied: {report.images_changed:,} of {report.images_matched:,} images changed ({rows}). "
                "Ctrl+Z undoes it."
            )
            self.checked = None
            self.applied.emit(report)
            return
        self.outcome.setText(
            f"Dry run: {report.images_changed:,} of {report.images_matched:,} images would change ({rows})."
        )
        self.checked = parameters
        self.apply_button.setEnabled(report.images_changed > 0 and parameters == self._parameters())

    def _failed(self, exc: BaseException) -> None:
        self.dry_button.setEnabled(True)
        self.outcome.setText(f"Error: {exc}")
