"""The export dialog, scoped to the selection or the current result."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from lorairo.gui.controllers.grid import GridController
from lorairo.gui.controllers.search import SearchController
from lorairo.gui.dialogs.export_dialog import ExportDialog, ExportScope
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.progress_panel import ProgressPanel
from lorairo.services.export_service import ExportService


class ExportController(QObject):
    def __init__(
        self, session: ProjectSession, grid: GridController, search: SearchController, progress: ProgressPanel
    ) -> None:
        super().__init__(session)
        self.session, self.grid, self.search, self.progress = session, grid, search, progress

    def open_dialog(self, parent: QWidget) -> ExportDialog | None:
        session = self.session
        if session.project is None:
            return None
        scope = ExportScope(
            selection_count=self.grid.selection_count(),
            result_count=self.grid.model.total,
            query=self.search.query(),
            resolve_selection=self.grid.model.selection_resolver(self.grid.selection_ranges()),
            preview_image_id=self.grid.current_image_id() or self.grid.first_loaded_id(),
        )
        service = ExportService(session.project, session.config, session.resolver)
        dialog = ExportDialog(service, session.runner, scope, parent)
        dialog.run_started.connect(lambda task: self.progress.track(task, "Export"))
        dialog.show()
        return dialog
