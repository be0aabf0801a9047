"""The progress panel: one row per running operation with live counts, rate, ETA and Cancel.

Only what needs the user stays: a running operation, and one that failed or rejected files (with
the reasons) until dismissed. A finished one fades out after a few seconds, and at most
`MAX_KEPT` failed rows are kept, so the panel never grows with the session."""

from __future__ import annotations

import time

from PySide6.QtCore import QEasingCurve, QPropertyAnimation, QTimer, Signal
from PySide6.QtWidgets import (
    QGraphicsOpacityEffect,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lorairo.gui.widgets.elided_label import ElidedLabel
from lorairo.gui.workers import Task

FADE_AFTER_MS = 4000
FADE_MS = 600
MAX_KEPT = 5


def format_rate(done: int, elapsed: float, total: int | None, unit: str) -> str:
    """`12.3 images/s, ETA 0:42` (ETA only when the total is known)."""
    if elapsed <= 0 or done <= 0:
        return ""
    rate = done / elapsed
    text = f"{rate:.1f} {unit}/s"
    if total is not None and total > done:
        remaining = int((total - done) / rate)
        text += f", ETA {remaining // 60}:{remaining % 60:02d}"
    return text


class ProgressRow(QWidget):
    removed = Signal(object)  # this row, once it has faded or been dismissed

    def __init__(self, task: Task, title: str, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = task
        self.unit = unit
        self.started = time.monotonic()
        self.failed = False
        self.title = QLabel(title)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMinimumWidth(120)
        self.status = ElidedLabel("starting…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel_or_dismiss)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(72)
        self.details.hide()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title)
        top.addWidget(self.bar, 1)
        top.addWidget(self.status, 2)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self._fade: QPropertyAnimation | None = None
        task.progressed.connect(self.update_progress)
        task.cancelled.connect(lambda: self.finish("cancelled; everything committed before is kept"))
        task.failed.connect(self._failed)
        task.succeeded.connect(lambda _result: self.finish(self.status.text() or "done"))
        task.finished.connect(self._settle)  # after `succeeded`, so the details are shown by then

    def update_progress(self, done: int, total: object, message: str) -> None:
        if isinstance(total, int) and total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)
        known = total if isinstance(total, int) else None
        rate = format_rate(done, time.monotonic() - self.started, known, self.unit)
        counts = f"{done:,}" + (f" / {known:,}" if known is not None else "")
        self.status.setText("  ·  ".join(part for part in (counts, message, rate) if part))

    def finish(self, text: str) -> None:
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
            self.bar.setValue(1)
        else:
            self.bar.setValue(self.bar.maximum())
        self.status.setText(text)

    def _failed(self, exc: BaseException) -> None:
        self.failed = True
        self.finish(f"failed: {exc}")

    def show_details(self, lines: list[str]) -> None:
        """E.g. failures with their reasons, kept visible after the operation ends."""
        if lines:
            self.details.setPlainText("\n".join(lines))
            self.details.show()

    @property
    def kept(self) -> bool:
        """A failure, or files rejected with reasons: the user must see it, so it waits."""
        return self.failed or not self.details.isHidden()

    def _settle(self) -> None:
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Dismiss")
        if not self.kept:
            QTimer.singleShot(FADE_AFTER_MS, self, self.fade_out)

    def fade_out(self) -> None:
        if self._fade is not None:
            return
        effect = QGraphicsOpacityEffect(self)
        self.setGraphicsEffect(effect)
        self._fade = QPropertyAnimation(effect, b"opacity", self)
        self._fade.setDuration(FADE_MS)
        self._fade.setStartValue(1.0)
        self._fade.setEndValue(0.0)
        self._fade.setEasingCurve(QEasingCurve.Type.InQuad)
        self._fade.finished.connect(lambda: self.removed.emit(self))
        self._fade.start()

    def _cancel_or_dismiss(self) -> None:
        if self.task.done:
            self.removed.emit(self)
            return
        self.task.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText("cancelling after the current batch…")


class ProgressPanel(QWidget):
    row_added = Signal(object)  # ProgressRow: the window shows the panel
    emptied = Signal()  # the last row went: the window may hide the panel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[ProgressRow] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self.empty = QLabel("No operations running.")
        self._layout.addWidget(self.empty)
        self._layout.addStretch(1)

    def track(self, task: Task, title: str, unit: str = "images") -> ProgressRow:
        row = ProgressRow(task, title, unit, self)
        row.removed.connect(self.remove)
        task.finished.connect(self._bound)
        self._layout.insertWidget(len(self.rows), row)
        self.rows.append(row)
        self.empty.hide()
        self._bound()
        self.row_added.emit(row)
        return row

    def _bound(self) -> None:
        """Drop the oldest finished rows beyond `MAX_KEPT` (running ones are never dropped)."""
        finished = [row for row in self.rows if row.task.done]
        for row in finished[: max(0, len(finished) - MAX_KEPT)]:
            self.remove(row)

    def remove(self, row: ProgressRow) -> None:
        if row not in self.rows:
            return
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.empty.setVisible(not self.rows)
        if not self.rows:
            self.emptied.emit()
