"""The inspector: show the current image (or say how many are selected and show their shared tags),
and turn its edits into undoable edit-log entries. Tag edits go through `TagEditBinding`, so with
several images selected one edit applies to all of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from lorairo.gui.controllers.grid import GridController
from lorairo.gui.controllers.search import SearchController
from lorairo.gui.controllers.tag_edits import EditQueue, TagEditBinding
from lorairo.gui.dialogs.bulk_edit_dialog import BulkEditDialog
from lorairo.gui.models.thumbnail_model import GridItem
from lorairo.gui.session import ProjectSession
from lorairo.gui.widgets.image_inspector import ImageInspector
from lorairo.gui.widgets.search_bar import quote_tag
from lorairo.gui.workers import Task
from lorairo.services.edit_service import (
    EditReport,
    EditService,
    EditTarget,
    RemovalReport,
    ReplayReport,
)
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
        self.queue = EditQueue(session, self)
        self._asked = 0
        self.tag_edits = TagEditBinding(editor, session, self.queue, lambda: inspector.selected_ids, self)
        self.tag_edits.search_requested.connect(self.find_tag)
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
        session.opened.connect(self._opened)
        session.edited.connect(self._edited)
        session.changed_elsewhere.connect(lambda _version: self._reload())  # a typed caption stays
        grid.add_menu_section(self._menu_section)
        self.confirm_removal: QMessageBox | None = None  # the open "Remove from project" question
        grid.view.delete_pressed.connect(self.ask_remove_selection)

    def _opened(self, project: Project) -> None:
        self.inspector.clear()
        self.inspector.score_kind = project.score_kind

    def find_tag(self, tag: str, replace: bool) -> None:
        """The tag menu's "Find images with this tag" (a new search) or "Search for this tag"
        (narrow the current one)."""
        term = f"tag:{quote_tag(tag)}"
        if replace:
            self.search.search_bar.set_text(term)
        else:
            self.search.search_bar.add_term(term)

    def _edited(self, report: object) -> None:
        if isinstance(report, RemovalReport) and report.applied:
            self.inspector.clear()  # what it showed is gone; the grid's new current loads next
            return
        self._reload()

    def _reload(self) -> None:
        if self.inspector.image_id is not None:
            self.load_details(self.inspector.image_id)
        elif len(self.inspector.selected_ids) > 1:
            self.load_selection()

    def _ask(self) -> int:
        """Number a read for the inspector: only the newest is shown, so an older one finishing
        later (asked before an edit) never puts back what the edit changed."""
        self._asked += 1
        return self._asked

    def load_selection(self) -> None:
        """Several images selected: their count and shared tags ("n of N") in the inspector."""
        search = self.session.search
        if search is None:
            return
        resolve = self.grid.model.selection_resolver(self.grid.selection_ranges())
        asked = self._ask()

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[list[int], dict[str, int]]:
            ids = resolve()
            return ids, search.tag_counts(ids)

        def shown(result: tuple[list[int], dict[str, int]]) -> None:
            ids, counts = result
            if asked == self._asked and self.grid.selection_count() == len(ids) > 1:
                self.inspector.show_selection(ids, list(counts.items()))

        self.session.start("selection tags", work, shown)

    def load_details(self, image_id: int) -> None:
        """Show everything stored about an image (and its preview) in the inspector; with several
        selected, their shared tags."""
        session = self.session
        if session.search is None or session.project is None:
            return
        if self.grid.selection_count() > 1:
            self.load_selection()
            return
        search, project = session.search, session.project
        asked = self._ask()

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[dict[str, Any], QImage]:
            record = search.details([image_id])[0]
            return record, load_preview(project.file_path(record["stored_path"]))

        def shown(result: tuple[dict[str, Any], QImage]) -> None:
            record, image = result
            if asked != self._asked or self.grid.current_image_id() not in (None, image_id):
                return
            self.inspector.show_record(record)
            self.inspector.set_preview(image_id, image)
            self.details_shown.emit(image_id)

        session.start("details", work, shown)

    # -- edits -----------------------------------------------------------------------------

    def set_reviewed(self, reviewed: bool) -> None:
        self.edit_current("reviewed", lambda s, t: s.mark_reviewed(t, reviewed=reviewed, apply=True))

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

    def _menu_section(self, menu: QMenu, _item: GridItem) -> None:
        reject = menu.addAction("Reject from export")
        reject.triggered.connect(lambda _checked=False: self.reject_selection_from_export())
        restore = menu.addAction("Restore to export")
        restore.triggered.connect(lambda _checked=False: self.reject_selection_from_export(restore=True))
        menu.addSeparator()
        count = self.grid.selection_count()
        text = f"Remove {count} images from project…" if count > 1 else "Remove from project…"
        remove = menu.addAction(text)
        remove.setToolTip("The files move to the project's trash folder; Ctrl+Z brings them back")
        remove.triggered.connect(lambda _checked=False: self.ask_remove_selection())

    def ask_remove_selection(self) -> QMessageBox | None:
        """Ask (with the count) before taking the selected images out of the project; the answer
        runs the removal in a worker as one edit (Delete on the grid, or the grid's menu)."""
        count = self.grid.selection_count()
        if count == 0 or self.session.edits is None or self.confirm_removal is not None:
            return None
        resolve = self.grid.model.selection_resolver(self.grid.selection_ranges())
        what = "this image" if count == 1 else f"these {count} images"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove from project",
            f"Remove {what} from the project?\n\n"
            "Their tags, captions, scores and other annotations are removed with them, and their "
            "files move to the project's trash folder (never deleted).\n"
            "This is one edit: Ctrl+Z brings everything back.",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self.grid.view.window(),
        )
        box.button(QMessageBox.StandardButton.Ok).setText(f"Remove {count}" if count > 1 else "Remove")
        box.setDefaultButton(QMessageBox.StandardButton.Ok)

        def answered(button: int) -> None:
            self.confirm_removal = None
            if button == QMessageBox.StandardButton.Ok:
                self.queue.submit(
                    "remove from project",
                    lambda service: service.remove_images(EditTarget(ids=tuple(resolve())), apply=True),
                    lambda report: self.session.message.emit(
                        f"Removed {report.images_changed} images from the project "
                        f"({report.files} files to the trash). Ctrl+Z brings them back."
                    ),
                )

        box.finished.connect(answered)
        self.confirm_removal = box
        box.open()
        return box

    def reject_selection_from_export(self, *, restore: bool = False) -> None:
        """Leave the selected images out of every export (soft: the files and their tags stay),
        as one edit-log entry, so Ctrl+Z brings them back."""
        resolve = self.grid.model.selection_resolver(self.grid.selection_ranges())
        self.queue.submit(
            "restore to export" if restore else "reject from export",
            lambda service: service.reject_from_export(
                EditTarget(ids=tuple(resolve())), restore=restore, apply=True
            ),
            lambda report: self.session.message.emit(
                f"{report.description}: {report.images_changed} images changed"
            ),
        )

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
