"""Tools > Find duplicates…: opens the duplicates view on the open project, announces its
keep-best edits on `session.edited` (so the grid and inspector refresh and Ctrl+Z undoes them),
refreshes it after any edit or undo, and shows a clicked member in the main grid."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from lorairo.gui.controllers.grid import GridController
from lorairo.gui.dialogs.duplicates_dialog import DuplicatesDialog
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.search_bar import SearchBar
from lorairo.services.similarity_service import SimilarityService


class DuplicatesController(QObject):
    def __init__(self, session: ProjectSession, grid: GridController, search_bar: SearchBar) -> None:
        super().__init__(session)
        self.session, self.grid, self.search_bar = session, grid, search_bar
        self.dialog: DuplicatesDialog | None = None
        self._select_when_loaded: int | None = None
        session.edited.connect(lambda _report: self.dialog.refresh() if self.dialog is not None else None)
        session.opened.connect(lambda _project: self.dialog.close() if self.dialog is not None else None)
        grid.model.page_loaded.connect(lambda _page: self._select_shown())

    def open_dialog(self, parent: QWidget) -> DuplicatesDialog | None:
        project = self.session.project
        if project is None:
            self.session.message.emit("Open a project to look for duplicates.")
            return None
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        dialog = DuplicatesDialog(
            SimilarityService(project, self.session.config), self.session.runner, project.file_path, parent
        )
        dialog.applied.connect(self.session.edited.emit)
        dialog.show_requested.connect(self.show_in_grid)
        dialog.finished.connect(lambda _result: self._closed(dialog))
        self.dialog = dialog
        dialog.show()
        return dialog

    def _closed(self, dialog: DuplicatesDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def show_in_grid(self, ids: list[int], chosen: int) -> None:
        """The group in the grid (`id:1 OR id:2 …`), the clicked image selected once it loads."""
        self._select_when_loaded = chosen
        self.search_bar.set_text(" OR ".join(f"id:{image_id}" for image_id in ids))

    def _select_shown(self) -> None:
        chosen, model = self._select_when_loaded, self.grid.model
        if chosen is None:
            return
        for row, item in enumerate(model.loaded_items()):
            if item.id == chosen:
                self._select_when_loaded = None
                self.grid.select_rows([row])
                self.grid.view.scrollTo(model.index(row))
                return
