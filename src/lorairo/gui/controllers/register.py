"""Registering folders and files (menu, drag and drop); the grid grows as batches commit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from lorairo.gui.controllers.search import SearchController
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.progress_panel import ProgressPanel
from lorairo.gui.workers import Task
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.registration_service import BatchCommitted, RegistrationReport, RegistrationService


def registration_lines(report: RegistrationReport) -> list[str]:
    """Per-file failures as a count and a list: they never make the run itself fail."""
    count = len(report.failed)
    lines = [f"{count} file{'' if count == 1 else 's'} rejected:"] if count else []
    lines += [
        f"failed: {f.get('path')} — {f.get('reason')}"
        + (f": {f['message']}" if f.get("message") not in (None, "", f.get("reason")) else "")
        for f in report.failed
    ]
    if report.skipped_links:
        lines.append(f"{len(report.skipped_links)} folder links outside the chosen folder not followed")
    lines += [f"duplicate: {d}" for d in report.duplicates[:50]]
    return lines


class RegisterController(QObject):
    """Runs `RegistrationService` in a worker and reports each run in the progress panel."""

    _batch = Signal(object)  # a committed batch, carried from the worker thread to the GUI

    def __init__(self, session: ProjectSession, search: SearchController, progress: ProgressPanel) -> None:
        super().__init__(session)
        self.session, self.search, self.progress = session, search, progress
        self._batch.connect(self._batch_committed, Qt.ConnectionType.QueuedConnection)

    def ask(self, parent: QWidget) -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Register a folder of images")
        if folder:
            self.register_paths([Path(folder)])

    def register_paths(self, paths: list[Path]) -> Task | None:
        """Register files and folders in a worker; the grid grows as batches commit."""
        if self.session.project is None:
            return None
        project, config, batch = self.session.project, self.session.config, self._batch

        def work(progress: ProgressCallback, cancel: CancelToken) -> RegistrationReport:
            service = RegistrationService(project, config)
            return service.register(paths, progress, cancel, on_batch_committed=batch.emit)

        task = self.session.start("register", work, self._registered)
        row = self.progress.track(task, f"Register {', '.join(p.name for p in paths)}")
        task.succeeded.connect(lambda report: row.show_details(registration_lines(report)))
        return task

    def _batch_committed(self, batch: BatchCommitted) -> None:
        if batch.image_ids:
            self.search.grow_later()

    def _registered(self, report: RegistrationReport) -> None:
        self.session.message.emit(
            f"Registration {'stopped' if report.cancelled else 'finished'}: {report.counts.summary()}"
        )
        self.search.grown()
