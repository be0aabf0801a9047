"""`ProjectSession`: the open project, the services built on it, and the worker pool.

One per window. Controllers hold the session, never each other's services: when the window
switches projects every controller hears `opened` and rebuilds from the session, and every change
to stored data (an edit, an undo, a bulk run, an annotation) is announced once on `edited`, so each
view refreshes itself instead of one method knowing every view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger
from PySide6.QtCore import QObject, QSettings, Signal

from lorairo.gui.workers import Task, TaskRunner
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.project_service import Project, ProjectService
from lorairo.services.search_service import AliasResolver, SearchService
from lorairo.services.similarity_service import SimilarityService
from lorairo.services.tag_service import TagService

LONG_RUNNING = frozenset({"register", "annotate", "export", "bulk edit"})


class ProjectSession(QObject):
    """Owns the project and its services; runs every service call in a worker."""

    opened = Signal(object)  # Project, after the services are rebuilt on it
    edited = Signal(object)  # EditReport | ReplayReport | AnnotationReport: stored data changed
    message = Signal(str)  # a one-line outcome for the status bar
    error = Signal(object)  # an exception a task raised

    def __init__(self, config: ConfigurationService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.project: Project | None = None
        self.search: SearchService | None = None
        self.edits: EditService | None = None
        self.resolver: AliasResolver | None = None
        self.tags = TagService(config)
        self.runner = TaskRunner(self)
        # window geometry, dock and splitter sizes: Qt's own binary blobs, kept out of the TOML
        # the user edits, in an INI file beside it
        self.ui_settings = QSettings(
            str(config.path.with_name("window-state.ini")), QSettings.Format.IniFormat, self
        )

    def start(
        self,
        name: str,
        fn: Callable[[ProgressCallback, CancelToken], Any],
        on_success: Callable[[Any], None] | None = None,
    ) -> Task:
        """Run `fn` in a worker; a failure is reported on `error`."""
        return self.runner.start(name, fn, on_success, self.error.emit)

    def start_quiet(
        self, name: str, fn: Callable[[ProgressCallback, CancelToken], Any], on_success: Callable[[Any], None]
    ) -> Task:
        """Run `fn` in a worker whose failure nobody needs to hear (facets, autocomplete)."""
        return self.runner.start(name, fn, on_success, lambda _exc: None)

    def open(self, name: str | None = None, *, create: bool = False) -> Task:
        """Open (or create) a project in a worker; `opened` fires when it is ready."""
        config = self.config

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[Project, bool]:
            project = ProjectService(config).open(name, create=create)
            return project, TagService(config).available()

        return self.start("open project", work, self._ready)

    def _ready(self, opened: tuple[Project, bool]) -> None:
        project, tag_db = opened
        if self.project is not None and self.project.root != project.root:
            self.project.close()
        self.project = project
        self.resolver = self.tags.resolve_aliases if tag_db else None
        similarity = SimilarityService(project, self.config).term_resolvers()  # similar:, text:
        self.search = SearchService(project, self.resolver, similarity)
        self.edits = EditService(project, self.resolver)
        self.save_setting("gui", "last_project", project.name)
        self.opened.emit(project)

    def project_names(self) -> list[str]:
        return ProjectService(self.config).list()

    def long_running(self) -> list[Task]:
        """Runs that write in batches; switching projects under them is refused."""
        return [task for task in self.runner.active if task.name in LONG_RUNNING]

    def save_setting(self, section: str, key: str, value: Any) -> None:
        try:
            self.config.update_setting(section, key, value)
        except Exception as exc:  # a read-only config file must not break the window
            logger.warning(f"cannot save {section}.{key}: {exc}")

    def close(self) -> None:
        """Cancel running work and let each finish its current batch, so nothing committed is lost."""
        self.runner.shutdown()
        self.tags.close()
        if self.project is not None:
            self.project.close()
            self.project = None
