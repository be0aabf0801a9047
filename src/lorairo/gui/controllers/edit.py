"""The inspector: show the current image, and turn its edits into undoable edit-log entries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtWidgets import QWidget

from lorairo.gui.controllers.grid import GridController
from lorairo.gui.controllers.search import SearchController
from lorairo.gui.dialogs.bulk_edit_dialog import BulkEditDialog
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.image_inspector import ImageInspector
from lorairo.gui.workers import Task
from lorairo.services.edit_service import EditReport, EditService, EditTarget, ReplayReport
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.project_service import Project

PREVIEW_EDGE = 2048


def load_preview(path: Path, edge: int = PREVIEW_EDGE) -> QImage:
    """The original decoded at screen size (worker thread)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > edge:
        reader.setScaledSize(size.scaled(QSize(edge, edge), Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class EditController(QObject):
    """Inspector edits, undo/redo and the bulk editor; every applied edit goes out on
    `session.edited`."""

    details_shown = Signal(int)  # the image id the inspector now shows
    inspect_requested = Signal()  # the user opened an image: the window shows the inspector

    def __init__(
        self,
        session: ProjectSession,
        inspector: ImageInspector,
        grid: GridController,
        search: SearchController,
    ) -> None:
        super().__init__(inspector)
        self.session, self.inspector, self.grid, self.search = session, inspector, grid, search
        editor = inspector.tag_editor
        editor.add_requested.connect(
            lambda tags: self.edit_current("add tags", lambda s, t: s.add_tags(t, tags, apply=True))
        )
        editor.reject_requested.connect(
            lambda tag, restore: self.edit_current(
                "restore tag" if restore else "reject tag",
                lambda s, t: s.reject_tags(t, [tag], restore=restore, apply=True),
            )
        )
        editor.reorder_requested.connect(self.reorder_current)
        editor.prefix_typed.connect(self._suggest_tags)
        editor.undo_requested.connect(self.undo)
        inspector.caption_save_requested.connect(
            lambda image_id, text: self.edit_current(
                "caption", lambda s, t: s.set_caption(t, text, apply=True), image_id=image_id
            )
        )
        inspector.score_set_requested.connect(
            lambda score: self.edit_current(
                "score", lambda s, t: s.set_score(t, score, kind=s.project.score_kind, apply=True)
            )
        )
        inspector.rating_set_requested.connect(
            lambda rating: self.edit_current("rating", lambda s, t: s.set_rating(t, rating, apply=True))
        )
        inspector.reviewed_requested.connect(self.set_reviewed)
        search.project_tags_loaded.connect(editor.set_project_tags)
        grid.current_settled.connect(self.load_details)
        grid.opened.connect(self._open)
        session.opened.connect(self._opened)
        session.edited.connect(lambda _report: self._reload())

    def _opened(self, project: Project) -> None:
        self.inspector.clear()
        self.inspector.score_kind = project.score_kind

    def _open(self, image_id: int) -> None:
        self.inspect_requested.emit()
        self.load_details(image_id)
        self.inspector.tag_editor.input.setFocus()

    def _reload(self) -> None:
        if self.inspector.image_id is not None:
            self.load_details(self.inspector.image_id)

    def load_details(self, image_id: int) -> None:
        """Show everything stored about an image (and its preview) in the inspector."""
        session = self.session
        if session.search is None or session.project is None:
            return
        search, root = session.search, session.project.root

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[dict[str, Any], QImage]:
            record = search.details([image_id])[0]
            return record, load_preview(root / record["stored_path"])

        def shown(result: tuple[dict[str, Any], QImage]) -> None:
            record, image = result
            if self.grid.current_image_id() not in (None, image_id):
                return
            self.inspector.show_record(record)
            self.inspector.set_preview(image_id, image)
            self.details_shown.emit(image_id)

        session.start("details", work, shown)

    # -- edits -----------------------------------------------------------------------------

    def set_reviewed(self, reviewed: bool) -> None:
        self.edit_current("reviewed", lambda s, t: s.mark_reviewed(t, reviewed=reviewed, apply=True))

    def reorder_current(self, tags: list[str]) -> Task | None:
        """Store the tag editor's dragged order as one undoable edit of the inspected image."""
        image_id = self.inspector.image_id
        if image_id is None:
            return None
        return self.edit_current("reorder tags", lambda s, _t: s.reorder_tags(image_id, tags, apply=True))

    def edit_current(
        self,
        what: str,
        edit: Callable[[EditService, EditTarget], EditReport],
        *,
        image_id: int | None = None,
    ) -> Task | None:
        """Apply one edit to the image in the inspector, or to `image_id` (a caption saved as the
        inspector moves on): an edit-log entry, so Ctrl+Z undoes it."""
        image_id = image_id if image_id is not None else self.inspector.image_id
        if image_id is None or self.session.edits is None:
            return None
        service = self.session.edits

        def done(report: EditReport) -> None:
            self.session.message.emit(f"{report.description}: {report.images_changed} image changed")
            self.session.edited.emit(report)

        return self.session.start(what, lambda _p, _c: edit(service, EditTarget(ids=(image_id,))), done)

    def _suggest_tags(self, prefix: str) -> None:
        if len(prefix) < 2:
            return
        tags = self.session.tags

        def work(_p: ProgressCallback, _c: CancelToken) -> list[tuple[str, int]]:
            return [(s.tag, s.usage_count) for s in tags.autocomplete(prefix, limit=15)]

        self.session.start_quiet("autocomplete", work, self.inspector.tag_editor.set_suggestions)

    # -- undo / redo / bulk ----------------------------------------------------------------

    def undo(self) -> None:
        self._replay(forward=False)

    def redo(self) -> None:
        self._replay(forward=True)

    def _replay(self, *, forward: bool) -> None:
        if self.session.edits is None:
            return
        service = self.session.edits

        def done(report: ReplayReport) -> None:
            self.session.message.emit(
                f"{report.action.capitalize()}: {report.description} ({report.rows} rows)"
            )
            self.session.edited.emit(report)

        self.session.start(
            "redo" if forward else "undo", lambda _p, _c: service.redo() if forward else service.undo(), done
        )

    def open_bulk_edit(self, parent: QWidget) -> BulkEditDialog | None:
        if self.session.edits is None:
            return None
        dialog = BulkEditDialog(
            self.session.edits,
            self.session.runner,
            query=self.search.query(),
            result_count=self.grid.model.total,
            selection_count=self.grid.selection_count(),
            resolve_selection=self.grid.model.selection_resolver(self.grid.selection_ranges()),
            tag_words=self.search.facets.tag_names(),
            parent=parent,
        )
        dialog.applied.connect(self.session.edited.emit)
        dialog.show()
        return dialog
