"""`ProjectSession`: the open project, the services built on it, and the worker pool.

One per window. Controllers hold the session, never each other's services: when the window
switches projects every controller hears `opened` and rebuilds from the session, and every change
to stored data (an edit, an undo, a bulk run, an annotation) is announced once on `edited`, so each
view refreshes itself instead of one method knowing every view.

While a project is open a `ChangeFollower` thread follows its change feed (LISTEN/NOTIFY on
PostgreSQL, polling the change counter on SQLite); what other processes store (workers, the CLI)
is announced on `changed_elsewhere`, bursts coalesced into at most one refresh per
`LIVE_REFRESH_MS`. The window's own writes are not announced there: `edited` covered them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from PySide6.QtCore import QCoreApplication, QObject, QSettings, Qt, QTimer, Signal

from lorairo.gui.workers import ChangeFollower, Task, TaskRunner
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.change_watch import ChangeWatcher
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.edit_service import EditService
from lorairo.services.progress import CancelToken, ProgressCallback
from lorairo.services.project_service import Project, ProjectService
from lorairo.services.search_service import AliasResolver, SearchService
from lorairo.services.similarity_service import SimilarityService
from lorairo.services.tag_service import TagService

LONG_RUNNING = frozenset({"register", "annotate", "export", "bulk edit"})
POLL_SECONDS = 1.0  # SQLite: one read of the one-row change counter per second
WATCH_SLICE_SECONDS = 0.5  # PostgreSQL: how long closing may wait for the LISTEN to return
LIVE_REFRESH_MS = 1000  # at most one refresh per second while other processes write
COALESCE_MS = 50  # changes this close together are one refresh even when none ran lately
WORKERS_RECOUNT_MS = 15_000  # the status bar's live-worker count, besides after each change


class ProjectSession(QObject):
    """Owns the project and its services; runs every service call in a worker."""

    opened = Signal(object)  # Project, after the services are rebuilt on it
    edited = Signal(object)  # EditReport | ReplayReport | AnnotationReport: stored data changed
    message = Signal(str)  # a one-line outcome for the status bar
    error = Signal(object)  # an exception a task raised
    changed_elsewhere = Signal(int)  # another process stored something (the change counter)
    workers_counted = Signal(int)  # live annotation workers on the project

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
        self.follower: ChangeFollower | None = None
        self._version = 0  # the newest change counter heard from the follower
        self._last_live = 0.0  # monotonic time of the last `changed_elsewhere`
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.timeout.connect(self._announce_change)
        self._annotation: AnnotationService | None = None
        self._workers_timer = QTimer(self)
        self._workers_timer.setInterval(WORKERS_RECOUNT_MS)
        self._workers_timer.timeout.connect(self.count_workers)
        app = QCoreApplication.instance()
        if app is not None:  # quitting without closing the window must not leave the thread running
            app.aboutToQuit.connect(self.stop_following)

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
        self.stop_following()
        if self.project is not None and self.project.root != project.root:
            self.project.close()
        self.project = project
        self._annotation = None
        self.resolver = self.tags.resolve_aliases if tag_db else None
        similarity = SimilarityService(project, self.config).term_resolvers()  # similar:, text:
        self.search = SearchService(project, self.resolver, similarity)
        self.edits = EditService(project, self.resolver)
        self.save_setting("gui", "last_project", project.name)
        self.opened.emit(project)
        self.follow(project)

    # -- following other processes' changes ------------------------------------------------

    def follow(self, project: Project) -> None:
        """Start following `project`'s change feed (its first read happens in the thread)."""
        self.stop_following()
        watcher = ChangeWatcher(project, POLL_SECONDS, ignore_own=True)
        self.follower = ChangeFollower(watcher, WATCH_SLICE_SECONDS, self)
        self.follower.changed.connect(self._heard, Qt.ConnectionType.QueuedConnection)
        self.follower.start()
        self._workers_timer.start()
        self.count_workers()

    def stop_following(self) -> None:
        """End the follower thread (returns once it has), before its project closes."""
        self._live_timer.stop()
        self._workers_timer.stop()
        if self.follower is not None:
            self.follower.stop()
            self.follower.setParent(None)  # finished: Python owns it now and frees it when dropped
            self.follower = None

    def _heard(self, version: int) -> None:
        self._version = version
        if not self._live_timer.isActive():
            since = (time.monotonic() - self._last_live) * 1000
            self._live_timer.start(max(COALESCE_MS, int(LIVE_REFRESH_MS - since)))

    def _announce_change(self) -> None:
        if self.follower is None:
            return
        self._last_live = time.monotonic()
        self.changed_elsewhere.emit(self._version)
        self.count_workers()

    def count_workers(self) -> None:
        """How many annotation workers are live (`lorairo workers`), for the status bar."""
        project, config = self.project, self.config
        if project is None:
            return

        def work(_p: ProgressCallback, _c: CancelToken) -> tuple[AnnotationService, int]:
            service = self._annotation or AnnotationService(project, config)
            return service, len(service.live_workers())

        def counted(result: tuple[AnnotationService, int]) -> None:
            if self.project is project:
                self._annotation, live = result
                self.workers_counted.emit(live)

        self.start_quiet("count workers", work, counted)

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
        self.stop_following()
        self.runner.shutdown()
        self.tags.close()
        if self.project is not None:
            self.project.close()
            self.project = None
