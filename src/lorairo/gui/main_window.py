"""The main window: project, grid, search and facets, inspector, progress, menus and shortcuts.

It only wires widgets to services. Every service call runs in a `TaskRunner` worker; the GUI
thread never waits on one except when the window closes, after cancelling, so batches that were
being committed finish and nothing committed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QImageReader,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from lorairo.gui.dialogs.annotate_dialog import AnnotateDialog, AnnotateScope
from lorairo.gui.dialogs.bulk_edit_dialog import BulkEditDialog
from lorairo.gui.dialogs.export_dialog import ExportDialog, ExportScope
from lorairo.gui.dialogs.settings_dialog import SettingsDialog
from lorairo.gui.dialogs.shortcuts_dialog import ShortcutsDialog
from lorairo.gui.thumbnail_loader import ThumbnailLoader
from lorairo.gui.thumbnail_model import ITEM_ROLE, SearchGridSource, ThumbnailDelegate, ThumbnailModel
from lorairo.gui.thumbnail_view import ThumbnailGridView
from lorairo.gui.widgets.facets_panel import FacetsPanel
from lorairo.gui.widgets.image_inspector import ImageInspector
from lorairo.gui.widgets.progress_panel import ProgressPanel
from lorairo.gui.widgets.search_bar import SearchBar, quote_tag
from lorairo.gui.workers import Task, TaskRunner
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditReport, EditService, EditTarget, ReplayReport
from lorairo.services.export_service import ExportService
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.project_service import Project, ProjectService
from lorairo.services.registration_service import BatchCommitted, RegistrationReport, RegistrationService
from lorairo.services.search_service import AliasResolver, Facets, SearchService
from lorairo.services.tag_service import TagService

PREVIEW_EDGE = 2048
FACET_TAGS = 50
PROJECT_TAGS = 500


class _Bridge(QObject):
    """Carries callbacks a service makes in a worker thread (committed batches) to the GUI."""

    batch = Signal(object)


def load_preview(path: Path, edge: int = PREVIEW_EDGE) -> QImage:
    """The original decoded at screen size (worker thread)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > edge:
        reader.setScaledSize(size.scaled(QSize(edge, edge), Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class MainWindow(QMainWindow):
    project_opened = Signal(object)
    details_shown = Signal(int)
    edit_applied = Signal(object)

    def __init__(self, config: ConfigurationService) -> None:
        super().__init__()
        self.config = config
        self.project: Project | None = None
        self.search: SearchService | None = None
        self.edits: EditService | None = None
        self.tags = TagService(config)
        self.resolver: AliasResolver | None = None
        self.runner = TaskRunner(self)
        self.bridge = _Bridge(self)
        self.bridge.batch.connect(self._batch_committed, Qt.ConnectionType.QueuedConnection)
        self.setWindowTitle("LoRAIro")
        self.setAcceptDrops(True)
        self.resize(1400, 900)

        edge = config.config.gui.thumbnail_size
        self.loader = ThumbnailLoader(self)
        self.loader.set_edge(edge)
        self.model = ThumbnailModel(self.loader, self)
        self.delegate = ThumbnailDelegate(self, edge)
        self.view = ThumbnailGridView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.activated.connect(self._open_current)
        self.view.selectionModel().currentChanged.connect(self._current_changed)

        self.search_bar = SearchBar()
        self.search_bar.submitted.connect(lambda _text: self.run_query())
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(48, 512)
        self.size_slider.setValue(edge)
        self.size_slider.setMaximumWidth(160)
        self.size_slider.setToolTip("Thumbnail size (Ctrl+= / Ctrl+-)")
        self.size_slider.valueChanged.connect(self.set_thumbnail_size)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(4, 4, 4, 4)
        top_layout.addWidget(self.search_bar)
        top_layout.addWidget(self.view, 1)
        self.setCentralWidget(top)

        self.facets = FacetsPanel()
        self.facets.tag_clicked.connect(self._facet_tag)
        self.facets.filters_changed.connect(self.run_query)
        self.inspector = ImageInspector()
        self.progress = ProgressPanel()
        self.facets_dock = self._dock("Facets", self.facets, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Image", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.progress_dock = self._dock("Progress", self.progress, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.progress_dock.hide()

        self.model.count_changed.connect(self.search_bar.show_count)
        self.model.query_failed.connect(lambda exc: self.search_bar.show_error(str(exc)))
        self._after_first_page: dict[str, Callable[[], None]] = {}
        self._deferred_stage = ""  # what the deferred loads wait for: page, paint, thumbnails
        self.model.page_loaded.connect(lambda _page: self._page_loaded())
        self.model.query_failed.connect(lambda _exc: self._run_deferred())
        self.view.painted.connect(self._view_painted)
        self.loader.idle.connect(self._loader_idle)
        self._wire_inspector()
        self._details_timer = QTimer(self)
        self._details_timer.setSingleShot(True)
        self._details_timer.setInterval(80)
        self._details_timer.timeout.connect(self.load_details)
        self._grow_timer = QTimer(self)
        self._grow_timer.setSingleShot(True)
        self._grow_timer.setInterval(500)
        self._grow_timer.timeout.connect(self.model.refresh_count)
        self._facets_generation = 0
        self.status = QLabel("")
        self.statusBar().addPermanentWidget(self.status)
        self.statusBar().addPermanentWidget(QLabel("Size"))
        self.statusBar().addPermanentWidget(self.size_slider)
        self.actions_by_name: dict[str, QAction] = {}
        self._build_menus()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- menus and shortcuts -----------------------------------------------------------------

    def _action(
        self,
        menu: Any,
        name: str,
        text: str,
        slot: Callable[[], Any],
        shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.actions_by_name[name] = action
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        project = bar.addMenu("&Project")
        self._action(
            project, "new_project", "&New project…", self.ask_new_project, QKeySequence.StandardKey.New
        )
        self._action(
            project, "open_project", "&Open project…", self.ask_open_project, QKeySequence.StandardKey.Open
        )
        project.addSeparator()
        self._action(project, "register", "&Register folder…", self.ask_register, "Ctrl+R")
        self._action(project, "export", "&Export…", self.open_export, "Ctrl+E")
        project.addSeparator()
        self._action(project, "settings", "&Settings…", self.open_settings, "Ctrl+,")
        self._action(project, "quit", "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self._action(edit, "undo", "&Undo edit", self.undo, "Ctrl+Z")
        self._action(edit, "redo", "&Redo edit", self.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "bulk", "&Bulk edit tags…", self.open_bulk_edit, "Ctrl+B")
        self._action(edit, "select_all", "Select &all", self.select_all, QKeySequence.StandardKey.SelectAll)
        self._action(edit, "search", "&Search", self.focus_search, QKeySequence.StandardKey.Find)
        self._action(edit, "reviewed", "Mark current &reviewed", lambda: self.set_reviewed(True), "Ctrl+D")
        annotate = bar.addMenu("&Annotate")
        self._action(annotate, "annotate", "&Annotate…", self.open_annotate, "Ctrl+Shift+A")
        view = bar.addMenu("&View")
        self._action(view, "bigger", "&Larger thumbnails", lambda: self._step_size(32), "Ctrl+=")
        self._action(view, "smaller", "&Smaller thumbnails", lambda: self._step_size(-32), "Ctrl+-")
        for dock in (self.facets_dock, self.inspector_dock, self.progress_dock):
            view.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "shortcuts", "&Keyboard shortcuts", self.open_shortcuts, "F1")

    def shortcut_list(self) -> list[tuple[str, str]]:
        return [
            (
                action.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
                action.text().replace("&", ""),
            )
            for action in self.actions_by_name.values()
            if not action.shortcut().isEmpty()
        ]

    def open_shortcuts(self) -> None:
        ShortcutsDialog(self.shortcut_list(), self).exec()

    def focus_search(self) -> None:
        self.search_bar.line.setFocus()
        self.search_bar.line.selectAll()

    def select_all(self) -> None:
        if self.search_bar.line.hasFocus():
            self.search_bar.line.selectAll()
            return
        self.view.selectAll()

    def _step_size(self, step: int) -> None:
        self.size_slider.setValue(self.size_slider.value() + step)

    def set_thumbnail_size(self, edge: int) -> None:
        self.delegate.edge = edge
        self.loader.set_edge(edge)
        self.view.doItemsLayout()
        self.view.viewport().update()
        self._save_setting("gui", "thumbnail_size", edge)

    def _save_setting(self, section: str, key: str, value: Any) -> None:
        try:
            self.config.update_setting(section, key, value)
        except Exception as exc:  # a read-only config file must not break the window
            logger.warning(f"cannot save {section}.{key}: {exc}")

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def show_error(self, exc: BaseException) -> None:
        self.statusBar().showMessage(f"Error: {exc}", 20_000)

    def start(
        self,
        name: str,
        fn: Callable[[ProgressCallback, CancelToken], Any],
        on_success: Callable[[Any], None] | None = None,
    ) -> Task:
        return self.runner.start(name, fn, on_success, self.show_error)

    # -- projects --------------------------------------------------------------------------

    def open_project(self, name: str | None = None, *, create: bool = False) -> Task:
        """Open (or create) a project in a worker; the window switches when it is ready."""
        config = self.config

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[Project, bool]:
            project = ProjectService(config).open(name, create=create)
            return project, TagService(config).available()

        self.status.setText("Opening project…")
        return self.start("open project", work, self._project_ready)

    def _project_ready(self, opened: tuple[Project, bool]) -> None:
        project, tag_db = opened
        if self.project is not None and self.project.root != project.root:
            self.project.close()
        self.project = project
        self.resolver = self.tags.resolve_aliases if tag_db else None
        self.search = SearchService(project, self.resolver)
        self.edits = EditService(project, self.resolver)
        self.setWindowTitle(f"LoRAIro — {project.name}")
        self.status.setText(project.name)
        self._save_setting("gui", "last_project", project.name)
        self.inspector.clear()
        self.inspector.score_kind = project.score_kind
        self.model.set_source(SearchGridSource(self.search), self.query())
        self._defer("facets", self.load_facets)
        self._defer("project tags", self._load_project_tags)
        self.project_opened.emit(project)

    def _busy(self) -> bool:
        long_running = [
            t for t in self.runner.active if t.name in {"register", "annotate", "export", "bulk edit"}
        ]
        if long_running:
            QMessageBox.information(self, "Busy", "Wait for (or cancel) the running operations first.")
        return bool(long_running)

    def ask_new_project(self) -> None:
        name, ok = QInputDialog.getText(self, "New project", "Project name:")
        if ok and name.strip() and not self._busy():
            self.open_project(name.strip(), create=True)

    def ask_open_project(self) -> None:
        names = ProjectService(self.config).list()
        if not names:
            self.ask_new_project()
            return
        current = names.index(self.project.name) if self.project and self.project.name in names else 0
        name, ok = QInputDialog.getItem(self, "Open project", "Project:", names, current, False)
        if ok and name and not self._busy():
            self.open_project(name)

    # -- search and facets -----------------------------------------------------------------

    def query(self) -> str:
        return " ".join(part for part in (self.search_bar.text, self.facets.terms()) if part)

    def run_query(self) -> None:
        if self.search is None:
            return
        self.model.set_query(self.query())
        self._defer("facets", self.load_facets)

    def _defer(self, name: str, load: Callable[[], None]) -> None:
        """Start `load` once the grid shows its first page with thumbnails: whole-result queries
        (facets, tag counts) would otherwise take the cores and the GIL from the page query and
        the decoders the user is waiting for."""
        self._after_first_page[name] = load
        self._deferred_stage = "page"

    def _page_loaded(self) -> None:
        if self._deferred_stage == "page":
            if self.view.isVisible():
                self._deferred_stage = "paint"  # the paint asks for the visible thumbnails
            else:
                self._run_deferred()

    def _view_painted(self) -> None:
        if self._deferred_stage == "paint":
            if self.loader.busy():
                self._deferred_stage = "thumbnails"
            else:
                self._run_deferred()

    def _loader_idle(self) -> None:
        if self._deferred_stage == "thumbnails":
            self._run_deferred()

    def _run_deferred(self) -> None:
        self._deferred_stage = ""
        loads, self._after_first_page = self._after_first_page, {}
        for load in loads.values():
            load()

    def load_facets(self) -> None:
        if self.search is None:
            return
        search, query = self.search, self.query()
        self._facets_generation += 1
        generation = self._facets_generation

        def shown(facets: Facets) -> None:
            if generation == self._facets_generation:
                self.facets.show_facets(facets)

        self.runner.start(
            "facets", lambda _p, _c: search.facets(query, top=FACET_TAGS), shown, lambda _e: None
        )

    def _facet_tag(self, tag: str, exclude: bool) -> None:
        self.search_bar.add_term(f"{'-' if exclude else ''}tag:{quote_tag(tag)}")

    def _load_project_tags(self) -> None:
        """The project's own tags (with image counts) for the completers."""
        assert self.search is not None
        search = self.search

        def work(_p: ProgressCallback, _c: CancelToken) -> dict[str, int]:
            facets = search.facets("", top=PROJECT_TAGS)
            return {count.tag: count.images for counts in facets.tags.values() for count in counts}

        def loaded(counts: dict[str, int]) -> None:
            self.inspector.tag_editor.set_project_tags(counts)
            self.search_bar.completer.set_tags(list(counts))

        self.start("project tags", work, loaded)

    # -- selection and the inspector -------------------------------------------------------

    def selection_ranges(self) -> list[tuple[int, int]]:
        selection = self.view.selectionModel().selection()
        return [(selection.at(i).top(), selection.at(i).bottom()) for i in range(selection.count())]

    def selection_count(self) -> int:
        return sum(bottom - top + 1 for top, bottom in self.selection_ranges())

    def current_image_id(self) -> int | None:
        item = self.view.currentIndex().data(ITEM_ROLE)
        return item.id if item is not None else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._details_timer.start()

    def _open_current(self, _index: QModelIndex) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.load_details()
        self.inspector.tag_editor.input.setFocus()

    def load_details(self, image_id: int | None = None) -> None:
        """Show everything stored about the current image (and its preview) in the inspector."""
        image_id = image_id if image_id is not None else self.current_image_id()
        if image_id is None or self.search is None or self.project is None:
            return
        search, root = self.search, self.project.root

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[dict[str, Any], QImage]:
            record = search.details([image_id])[0]
            return record, load_preview(root / record["stored_path"])

        def shown(result: tuple[dict[str, Any], QImage]) -> None:
            record, image = result
            if self.current_image_id() not in (None, image_id):
                return
            self.inspector.show_record(record)
            self.inspector.set_preview(image_id, image)
            self.details_shown.emit(image_id)

        self.start("details", work, shown)

    def _wire_inspector(self) -> None:
        inspector = self.inspector
        inspector.tag_editor.add_requested.connect(
            lambda tags: self.edit_current("add tags", lambda s, t: s.add_tags(t, tags, apply=True))
        )
        inspector.tag_editor.reject_requested.connect(
            lambda tag, restore: self.edit_current(
                "restore tag" if restore else "reject tag",
                lambda s, t: s.reject_tags(t, [tag], restore=restore, apply=True),
            )
        )
        inspector.tag_editor.reorder_requested.connect(self.reorder_current)
        inspector.tag_editor.prefix_typed.connect(self._suggest_tags)
        inspector.tag_editor.undo_requested.connect(self.undo)
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
        if image_id is None or self.edits is None:
            return None
        service = self.edits

        def done(report: EditReport) -> None:
            self.show_message(f"{report.description}: {report.images_changed} image changed")
            self.after_edit()
            self.edit_applied.emit(report)

        return self.start(what, lambda _p, _c: edit(service, EditTarget(ids=(image_id,))), done)

    def _suggest_tags(self, prefix: str) -> None:
        if len(prefix) < 2:
            return
        tags = self.tags

        def work(_p: ProgressCallback, _c: CancelToken) -> list[tuple[str, int]]:
            return [(s.tag, s.usage_count) for s in tags.autocomplete(prefix, limit=15)]

        self.runner.start("autocomplete", work, self.inspector.tag_editor.set_suggestions, lambda _e: None)

    # -- undo / redo / bulk ----------------------------------------------------------------

    def undo(self) -> None:
        self._replay(forward=False)

    def redo(self) -> None:
        self._replay(forward=True)

    def _replay(self, *, forward: bool) -> None:
        if self.edits is None:
            return
        service = self.edits

        def done(report: ReplayReport) -> None:
            self.show_message(f"{report.action.capitalize()}: {report.description} ({report.rows} rows)")
            self.after_edit()
            self.edit_applied.emit(report)

        self.start(
            "redo" if forward else "undo", lambda _p, _c: service.redo() if forward else service.undo(), done
        )

    def after_edit(self) -> None:
        """Every view an edit can make stale: grid pages (tooltip tags), facet counts, both
        autocomplete vocabularies (search bar, tag box) and the inspector."""
        self.model.soft_refresh()
        self.load_facets()
        self._load_project_tags()
        if self.inspector.image_id is not None:
            self.load_details(self.inspector.image_id)

    def open_bulk_edit(self) -> BulkEditDialog | None:
        if self.edits is None:
            return None
        dialog = BulkEditDialog(
            self.edits,
            self.runner,
            query=self.query(),
            result_count=self.model.total,
            selection_count=self.selection_count(),
            resolve_selection=self.model.selection_resolver(self.selection_ranges()),
            tag_words=self.facets.tag_names(),
            parent=self,
        )
        dialog.applied.connect(self._bulk_applied)
        dialog.show()
        return dialog

    def _bulk_applied(self, report: EditReport) -> None:
        self.after_edit()
        self.edit_applied.emit(report)

    def _track(self, task: Task, title: str) -> None:
        self.progress.track(task, title)
        self.progress_dock.show()

    # -- register / annotate / export ------------------------------------------------------

    def ask_register(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Register a folder of images")
        if folder:
            self.register_paths([Path(folder)])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.register_paths(paths)

    def register_paths(self, paths: list[Path]) -> Task | None:
        """Register files and folders in a worker; the grid grows as batches commit."""
        if self.project is None:
            return None
        project, config, bridge = self.project, self.config, self.bridge

        def work(progress: ProgressCallback, cancel: CancelToken) -> RegistrationReport:
            service = RegistrationService(project, config)
            return service.register(paths, progress, cancel, on_batch_committed=bridge.batch.emit)

        task = self.start("register", work, self._registered)
        row = self.progress.track(task, f"Register {', '.join(p.name for p in paths)}")
        task.succeeded.connect(lambda report: row.show_details(self.registration_lines(report)))
        self.progress_dock.show()
        return task

    @staticmethod
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

    def _batch_committed(self, batch: BatchCommitted) -> None:
        if batch.image_ids and not self._grow_timer.isActive():
            self._grow_timer.start()

    def _registered(self, report: RegistrationReport) -> None:
        self.show_message(
            f"Registration {'stopped' if report.cancelled else 'finished'}: {report.counts.summary()}"
        )
        self.model.refresh_count()
        self.load_facets()
        self._load_project_tags()

    def open_annotate(self) -> AnnotateDialog | None:
        if self.project is None or self.search is None:
            return None
        search, query = self.search, self.query()

        def result_ids() -> list[int]:
            return [image_id for batch in search.iter_ids(query or "all") for image_id in batch]

        scope = AnnotateScope(
            selection_count=self.selection_count(),
            result_count=self.model.total,
            query=query,
            resolve_selection=self.model.selection_resolver(self.selection_ranges()),
            resolve_result=result_ids,
        )
        dialog = AnnotateDialog(self.project, self.config, self.runner, scope, self)
        dialog.run_started.connect(lambda task: self._track(task, "Annotate"))
        dialog.finished_run.connect(lambda _report: self.after_edit())
        dialog.show()
        return dialog

    def open_export(self) -> ExportDialog | None:
        if self.project is None:
            return None
        scope = ExportScope(
            selection_count=self.selection_count(),
            result_count=self.model.total,
            query=self.query(),
            resolve_selection=self.model.selection_resolver(self.selection_ranges()),
            preview_image_id=self.current_image_id() or self._first_loaded_id(),
        )
        service = ExportService(self.project, self.config, self.resolver)
        dialog = ExportDialog(service, self.runner, scope, self)
        dialog.run_started.connect(lambda task: self._track(task, "Export"))
        dialog.show()
        return dialog

    def _first_loaded_id(self) -> int | None:
        items = self.model.loaded_items()
        return items[0].id if items else None

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.config, self)
        dialog.show()
        return dialog

    # -- closing ---------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel running work and let each finish its current batch, so nothing committed is lost."""
        if self.runner.active:
            self.statusBar().showMessage("Finishing the current batch before closing…")
        self.runner.shutdown()
        self.model.queries.shutdown()
        self.loader.shutdown()
        self.tags.close()
        if self.project is not None:
            self.project.close()
            self.project = None
        event.accept()

    def select_rows(self, rows: list[int]) -> None:
        """Select these rows (tests and scripts drive the window through this)."""
        selection = self.view.selectionModel()
        selection.clearSelection()
        for row in rows:
            selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        if rows:
            selection.setCurrentIndex(self.model.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate)
