"""The progress panel: one row per running operation with live counts, rate, ETA and Cancel."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from lorairo.gui.workers import Task


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
    def __init__(self, task: Task, title: str, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = task
        self.unit = unit
        self.started = time.monotonic()
        self.title = QLabel(title)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMinimumWidth(160)
        self.status = QLabel("starting…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(90)
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
        task.progressed.connect(self.update_progress)
        task.cancelled.connect(lambda: self.finish("cancelled; everything committed before is kept"))
        task.failed.connect(lambda exc: self.finish(f"failed: {exc}"))
        task.succeeded.connect(lambda _result: self.finish(self.status.text() or "done"))

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
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Done")
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
            self.bar.setValue(1)
        else:
            self.bar.setValue(self.bar.maximum())
        self.status.setText(text)

    def show_details(self, lines: list[str]) -> None:
        """E.g. failures with their reasons, kept visible after the operation ends."""
        if lines:
            self.details.setPlainText("\n".join(lines))
            self.details.show()

    def _cancel(self) -> None:
        self.task.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText("cancelling after the current batch…")


class ProgressPanel(QWidget):
    row_added = Signal(object)  # ProgressRow: the window shows the panel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[ProgressRow] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self.empty = QLabel("No operations running.")
        self._layout.addWidget(self.empty)
        clear = QPushButton("Clear finished")
        clear.clicked.connect(self.clear_finished)
        self._layout.addWidget(clear)
        self._layout.addStretch(1)

    def track(self, task: Task, title: str, unit: str = "images") -> ProgressRow:
        row = ProgressRow(task, title, unit, self)
        self._layout.insertWidget(len(self.rows) + 1, row)
        self.rows.append(row)
        self.empty.hide()
        self.row_added.emit(row)
        return row

    def clear_finished(self) -> None:
        for row in [r for r in self.rows if r.task.done]:
            self.rows.remove(row)
            row.setParent(None)
            row.deleteLater()
        self.empty.setVisible(not self.rows)
