"""The main window: a frame that lays out the widgets, the menus and the docks.

What the widgets do lives in one controller per feature (`gui/controllers/`), all built on one
`ProjectSession`, which owns the open project and its services. Every service call runs in a
`TaskRunner` worker; the GUI thread never waits on one except when the window closes, after
cancelling, so batches that were being committed finish and nothing committed is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from lorairo.gui.controllers.annotate import AnnotateController
from lorairo.gui.controllers.duplicates import DuplicatesController
from lorairo.gui.controllers.edit import EditController
from lorairo.gui.controllers.export import ExportController
from lorairo.gui.controllers.grid import GridController
from lorairo.gui.controllers.register import RegisterController
from lorairo.gui.controllers.review import ReviewController
from lorairo.gui.controllers.search import SearchController
from lorairo.gui.controllers.similarity import SimilarityController
from lorairo.gui.dialogs.settings_dialog import SettingsDialog
from lorairo.gui.dialogs.shortcuts_dialog import ShortcutsDialog
from lorairo.gui.models.thumbnail_loader import ThumbnailLoader
from lorairo.gui.models.thumbnail_model import ThumbnailModel
from lorairo.gui.session import ProjectSession
from lorairo.gui.theme import theme_manager
from lorairo.gui.widgets.facets_panel import FacetsPanel
from lorairo.gui.widgets.image_inspector import ImageInspector
from lorairo.gui.widgets.progress_panel import ProgressPanel
from lorairo.gui.widgets.review_view import ReviewPage
from lorairo.gui.widgets.search_bar import SearchBar
from lorairo.gui.widgets.thumbnail_delegate import ThumbnailDelegate
from lorairo.gui.widgets.thumbnail_view import ThumbnailGridView
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project

MINIMUM_SIZE = (960, 600)  # below this the grid, the inspector's editors and the facets overlap
FACETS_SHARE, INSPECTOR_SHARE = 0.17, 0.32  # of the window's width, in the default layout
FACETS_WIDTH = (200, 360)  # the default layout's bounds on the docks' widths
INSPECTOR_WIDTH = (340, 900)
PREVIEW_SHARE = 0.45  # of the inspector's height, in the default layout
FINISH_EDITS_S = 10.0  # the longest closing waits for requested edits to be written


class MainWindow(QMainWindow):
    def __init__(self, config: ConfigurationService) -> None:
        super().__init__()
        self.session = ProjectSession(config, self)
        self.setObjectName("main_window")
        self.setWindowTitle("LoRAIro")
        self.setAcceptDrops(True)
        self.setMinimumSize(*MINIMUM_SIZE)
        self.resize(1400, 900)
        theme_manager().apply(config.config.gui.theme)

        edge = config.config.gui.thumbnail_size
        self.loader = ThumbnailLoader(self)
        self.loader.set_edge(edge)
        self.model = ThumbnailModel(self.loader, self)
        self.view = ThumbnailGridView()
        self.search_bar = SearchBar()
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(48, 512)
        self.size_slider.setMaximumWidth(160)
        self.size_slider.setToolTip("Thumbnail size (Ctrl+= / Ctrl+-)")
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(4, 4, 4, 4)
        top_layout.addWidget(self.search_bar)
        top_layout.addWidget(self.view, 1)
        self.review_page = ReviewPage(ReviewController.filmstrip(self))
        self.pages = QStackedWidget()
        self.pages.addWidget(top)
        self.pages.addWidget(self.review_page)
        self.setCentralWidget(self.pages)

        self.facets = FacetsPanel()
        self.inspector = ImageInspector()
        self.progress = ProgressPanel()
        self.facets_dock = self._dock("Facets", self.facets, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Image", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.progress_dock = self._dock("Progress", self.progress, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.progress_dock.hide()
        # the side docks run the full height: the progress panel sits under the grid only, and
        # never squeezes the inspector's editors or the facets
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.progress.row_added.connect(lambda _row: self.progress_dock.show())
        self.progress.emptied.connect(self.progress_dock.hide)

        session = self.session
        self.grid = GridController(
            session, self.view, self.model, self.loader, ThumbnailDelegate(self, edge), self.size_slider
        )
        self.search = SearchController(
            session, self.search_bar, self.facets, self.model, self.view, self.loader
        )
        self.edit = EditController(session, self.inspector, self.grid, self.search)
        self.register = RegisterController(session, self.search, self.progress)
        self.annotate = AnnotateController(session, self.grid, self.search, self.progress)
        self.export = ExportController(session, self.grid, self.search, self.progress)
        self.review = ReviewController(session, self.review_page, self)
        for key, step in (("Alt+Right", 1), ("Alt+Left", -1)):  # review mode has its own
            shortcut = QShortcut(QKeySequence(key), self.inspector)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda step=step: self.grid.step(step))
        for editor in (self.inspector.tag_editor, self.review_page.tag_editor):
            editor.tokenizer_file = config.config.tags.clip_tokenizer
        self.review.entered.connect(self._review_entered)
        self.review.left.connect(self._review_left)
        session.opened.connect(lambda _project: self.review.leave())
        self.review.binding.search_requested.connect(self._find_from_review)
        self.search.project_tags_loaded.connect(self.review_page.tag_editor.set_project_tags)
        self.grid.opened.connect(lambda _image_id: self.enter_review())
        self._docks_before_review: list[QDockWidget] = []
        self.similarity = SimilarityController(session, self.grid, self.search_bar, self.inspector)
        self.duplicates = DuplicatesController(session, self.grid, self.search_bar)
        session.opened.connect(self._opened)
        session.message.connect(lambda text: self.statusBar().showMessage(text, 10_000))
        session.error.connect(lambda exc: self.statusBar().showMessage(f"Error: {exc}", 20_000))

        self.status = QLabel("")
        self.live = QLabel("")  # "live: 2 workers" while annotation workers run on the project
        self.live.setToolTip("Annotation workers with a recent heartbeat (lorairo workers)")
        session.workers_counted.connect(self._workers_counted)
        self.statusBar().addPermanentWidget(self.live)
        self.statusBar().addPermanentWidget(self.status)
        self.statusBar().addPermanentWidget(QLabel("Size"))
        self.statusBar().addPermanentWidget(self.size_slider)
        self.actions_by_name: dict[str, QAction] = {}
        self._build_menus()
        self._layout_restored = self.restore_layout()

    @property
    def project(self) -> Project | None:
        return self.session.project

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- layout: proportions, saved geometry and state ---------------------------------------

    def default_layout(self) -> None:
        """Docks and the inspector's splitter in proportion to the window: the grid keeps most of
        the width, the preview about half the inspector's height."""
        width = self.width()
        facets = min(max(int(width * FACETS_SHARE), FACETS_WIDTH[0]), FACETS_WIDTH[1])
        inspector = min(max(int(width * INSPECTOR_SHARE), INSPECTOR_WIDTH[0]), INSPECTOR_WIDTH[1])
        self.resizeDocks(
            [self.facets_dock, self.inspector_dock], [facets, inspector], Qt.Orientation.Horizontal
        )
        splitter = self.inspector.findChild(QSplitter, "inspector_splitter")
        if isinstance(splitter, QSplitter):
            total = sum(splitter.sizes()) or self.height()
            splitter.setSizes([int(total * PREVIEW_SHARE), total - int(total * PREVIEW_SHARE)])

    def _splitters(self) -> list[QSplitter]:
        return [s for s in self.findChildren(QSplitter) if s.objectName()]

    def restore_layout(self) -> bool:
        """Geometry, docks and splitters as the window last closed; False when nothing was saved."""
        settings = self.session.ui_settings
        geometry, state = settings.value("window/geometry"), settings.value("window/state")
        if not isinstance(geometry, QByteArray) or not isinstance(state, QByteArray):
            return False
        self.restoreGeometry(geometry)
        self.restoreState(state)
        for splitter in self._splitters():
            sizes = settings.value(f"splitters/{splitter.objectName()}")
            if isinstance(sizes, QByteArray):
                splitter.restoreState(sizes)
        return True

    def save_layout(self) -> None:
        settings = self.session.ui_settings
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        for splitter in self._splitters():
            settings.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._layout_restored:
            self._layout_restored = True
            self.default_layout()

    # -- review mode -------------------------------------------------------------------------

    def enter_review(self) -> None:
        """F or Enter on the grid: review the current search from the current image."""
        if self.session.search is not None and not self.review.active:
            self.review.enter(self.search.query(), self.model.sort_key, self.grid.current_image_id())

    def toggle_review(self) -> None:
        if self.review.active:
            self.review.leave()
        else:
            self.enter_review()

    def _review_entered(self) -> None:
        docks = (self.facets_dock, self.inspector_dock, self.progress_dock)
        self._docks_before_review = [dock for dock in docks if dock.isVisible()]
        for dock in self._docks_before_review:
            dock.hide()
        self.pages.setCurrentWidget(self.review_page)
        self.review_page.focus_input()

    def _review_left(self, _image_id: int | None) -> None:
        self.pages.setCurrentIndex(0)
        for dock in self._docks_before_review:
            dock.show()
        position = self.review.position
        if not self.review_page.only_unreviewed.isChecked() and 0 <= position < self.model.rowCount():
            self.grid.select_rows([position])  # the queue is the grid's search in the grid's order
            self.view.scrollTo(self.model.index(position))
        self.view.setFocus()

    def _mark_reviewed(self) -> None:
        """In review mode the image on screen (and on to the next), else the grid's current one."""
        if self.review.active:
            self.review.reviewed_next()
        else:
            self.edit.set_reviewed(True)

    def _find_from_review(self, tag: str, replace: bool) -> None:
        self.review.leave()
        self.edit.find_tag(tag, replace)

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
        self._action(project, "register", "&Register folder…", lambda: self.register.ask(self), "Ctrl+R")
        self._action(project, "export", "&Export…", lambda: self.export.open_dialog(self), "Ctrl+E")
        project.addSeparator()
        self._action(project, "settings", "&Settings…", self.open_settings, "Ctrl+,")
        self._action(project, "quit", "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self._action(edit, "undo", "&Undo edit", self.edit.undo, "Ctrl+Z")
        self._action(edit, "redo", "&Redo edit", self.edit.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "bulk", "&Bulk edit tags…", lambda: self.edit.open_bulk_edit(self), "Ctrl+B")
        self._action(edit, "select_all", "Select &all", self.select_all, QKeySequence.StandardKey.SelectAll)
        self._action(edit, "search", "&Search", self.search.focus, QKeySequence.StandardKey.Find)
        self._action(
            edit, "find_similar", "Find s&imilar images", self.similarity.find_similar, "Ctrl+Shift+F"
        )
        self._action(edit, "reviewed", "Mark current &reviewed", self._mark_reviewed, "Ctrl+D")
        annotate = bar.addMenu("&Annotate")
        self._action(
            annotate, "annotate", "&Annotate…", lambda: self.annotate.open_dialog(self), "Ctrl+Shift+A"
        )
        tools = bar.addMenu("&Tools")
        self._action(
            tools,
            "find_duplicates",
            "Find &duplicates…",
            lambda: self.duplicates.open_dialog(self),
            "Ctrl+Shift+D",
        )
        view = bar.addMenu("&View")
        self._action(view, "bigger", "&Larger thumbnails", lambda: self.grid.step_size(32), "Ctrl+=")
        self._action(view, "smaller", "&Smaller thumbnails", lambda: self.grid.step_size(-32), "Ctrl+-")
        review = self._action(view, "review", "&Review mode", self.toggle_review, "F")
        review.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.view.addAction(review)  # F on the grid; in review mode the page handles F itself
        view.addSeparator()
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

    def select_all(self) -> None:
        if self.search.has_focus():
            self.search_bar.line.selectAll()
        else:
            self.grid.select_all()

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.session.config, self)
        dialog.saved.connect(self._setting_saved)
        dialog.show()
        return dialog

    def _setting_saved(self, section: str, key: str) -> None:
        if (section, key) == ("gui", "theme"):
            theme_manager().apply(self.session.config.config.gui.theme)

    # -- projects --------------------------------------------------------------------------

    def open_project(self, name: str | None = None, *, create: bool = False) -> None:
        self.status.setText("Opening project…")
        self.session.open(name, create=create)

    def _opened(self, project: Project) -> None:
        self.setWindowTitle(f"LoRAIro — {project.name}")
        self.status.setText(project.name)

    def _workers_counted(self, live: int) -> None:
        self.live.setText(f"live: {live} worker{'s' if live != 1 else ''}" if live else "")

    def _busy(self) -> bool:
        busy = bool(self.session.long_running())
        if busy:
            QMessageBox.information(self, "Busy", "Wait for (or cancel) the running operations first.")
        return busy

    def ask_new_project(self) -> None:
        name, ok = QInputDialog.getText(self, "New project", "Project name:")
        if ok and name.strip() and not self._busy():
            self.open_project(name.strip(), create=True)

    def ask_open_project(self) -> None:
        names = self.session.project_names()
        if not names:
            self.ask_new_project()
            return
        project = self.session.project
        current = names.index(project.name) if project and project.name in names else 0
        name, ok = QInputDialog.getItem(self, "Open project", "Project:", names, current, False)
        if ok and name and not self._busy():
            self.open_project(name)

    # -- drag and drop, closing ------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.register.register_paths(paths)

    def finish_edits(self, timeout_s: float = FINISH_EDITS_S) -> None:
        """Before workers are cancelled: leave review (its docks come back) and write what the
        person asked for, a caption typed and not yet saved included, so closing loses none."""
        self.review.leave()
        self.inspector.commit_caption()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not (
            self.review.edits.idle()
            and self.edit.queue.idle()
            and not any(task.name == "caption" for task in self.session.runner.active)
        ):
            QApplication.processEvents()
            time.sleep(0.005)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel running work and let each finish its current batch, so nothing committed is lost."""
        self.finish_edits()
        self.session.stop_following()
        self.save_layout()
        if self.session.runner.active:
            self.statusBar().showMessage("Finishing the current batch before closing…")
        self.session.runner.shutdown()
        self.model.queries.shutdown()
        self.loader.shutdown()
        self.review.shutdown()
        self.session.close()
        event.accept()
