"""The annotate dialog, scoped to the selection or the current result."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from lorairo.gui.controllers.grid import GridController
from lorairo.gui.controllers.search import SearchController
from lorairo.gui.dialogs.annotate_dialog import AnnotateDialog, AnnotateScope
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.progress_panel import ProgressPanel


class AnnotateController(QObject):
    def __init__(
        self, session: ProjectSession, grid: GridController, search: SearchController, progress: ProgressPanel
    ) -> None:
        super().__init__(session)
        self.session, self.grid, self.search, self.progress = session, grid, search, progress

    def open_dialog(self, parent: QWidget) -> AnnotateDialog | None:
        session = self.session
        if session.project is None or session.search is None:
            return None
        search, query = session.search, self.search.query()

        def result_ids() -> list[int]:
            return [image_id for batch in search.iter_ids(query or "all") for image_id in batch]

        scope = AnnotateScope(
            selection_count=self.grid.selection_count(),
            result_count=self.grid.model.total,
            query=query,
            resolve_selection=self.grid.model.selection_resolver(self.grid.selection_ranges()),
            resolve_result=result_ids,
        )
        dialog = AnnotateDialog(session.project, session.config, session.runner, scope, parent)
        dialog.run_started.connect(lambda task: self.progress.track(task, "Annotate"))
        dialog.finished_run.connect(session.edited.emit)
        dialog.show()
        return dialog
