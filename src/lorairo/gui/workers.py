"""Running service calls off the GUI thread.

A `Task` wraps `fn(progress, cancel)`: the service's `ProgressCallback` becomes the `progressed`
signal (throttled, so a service reporting every image cannot flood the event loop) and a
`CancelToken` lets the window stop it. `ChangeFollower` is the one long-lived thread: it follows
the project's change feed. Outcomes cross back to the GUI thread through queued
connections to the task's own slots, so every public signal is emitted on the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot

from lorairo.errors import OperationCancelled
from lorairo.services.change_watch import ChangeWatcher
from lorairo.services.progress import CancelToken, ProgressCallback

TaskFn = Callable[[ProgressCallback, CancelToken], Any]
PROGRESS_INTERVAL_S = 0.05


class _Runnable(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Task owns it; Qt must not delete a Python-owned object
        self.task = task

    def run(self) -> None:
        self.task._execute()


class Task(QObject):
    """One service call in a worker thread; connect to the signals, then `TaskRunner.start` it."""

    progressed = Signal(int, object, str)  # done, total (None while unknown), message
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # always last, whatever the outcome

    _outcome = Signal(str, object)
    _progress = Signal(int, object, str)

    def __init__(self, name: str, fn: TaskFn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.fn = fn
        self.token = CancelToken()
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self._last_progress = 0.0
        self._runnable = _Runnable(self)
        self._outcome.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._progress.connect(self._relay_progress, Qt.ConnectionType.QueuedConnection)

    def cancel(self) -> None:
        self.token.cancel()

    def _report(self, done: int, total: int | None, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_INTERVAL_S and (total is None or done < total):
            return
        self._last_progress = now
        self._progress.emit(done, total, message)

    def _execute(self) -> None:
        """Runs in the worker thread."""
        try:
            self.token.raise_if_cancelled()
            result = self.fn(self._report, self.token)
        except OperationCancelled:
            self._outcome.emit("cancelled", None)
        except Exception as exc:  # every failure is shown to the user, none kills the worker
            logger.opt(exception=exc).debug(f"task {self.name!r} failed")
            self._outcome.emit("failed", exc)
        else:
            self._outcome.emit("succeeded", result)

    @Slot(int, object, str)
    def _relay_progress(self, done: int, total: object, message: str) -> None:
        if not self.done:
            self.progressed.emit(done, total, message)

    @Slot(str, object)
    def _deliver(self, kind: str, payload: object) -> None:
        self.done = True
        if kind == "succeeded":
            self.result = payload
            self.succeeded.emit(payload)
        elif kind == "failed":
            assert isinstance(payload, BaseException)
            self.error = payload
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
        self.finished.emit()


class TaskRunner(QObject):
    """Starts tasks on its own thread pool and can cancel and drain them all (on close)."""

    task_started = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.active: set[Task] = set()

    def start(
        self,
        name: str,
        fn: TaskFn,
        on_success: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Task:
        task = Task(name, fn, self)
        if on_success is not None:
            task.succeeded.connect(on_success)
        if on_error is not None:
            task.failed.connect(on_error)
        task.finished.connect(lambda: self._forget(task))
        self.active.add(task)
        self.task_started.emit(task)
        self.pool.start(task._runnable)
        return task

    def _forget(self, task: Task) -> None:
        self.active.discard(task)
        task.deleteLater()

    def cancel_all(self) -> None:
        for task in list(self.active):
            task.cancel()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything and wait for the workers to reach a safe point (batches commit whole)."""
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)


class ChangeFollower(QThread):
    """Follows the open project's change feed in a thread of its own (it blocks on `LISTEN` or
    sleeps between polls, so it never takes a pool worker) and emits `changed` on the GUI thread
    for each change another process made; `stop` returns once the thread has ended."""

    changed = Signal(int)  # the store's change counter after another process's change

    def __init__(self, watcher: ChangeWatcher, slice_seconds: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self.slice_seconds = slice_seconds
        self.token = CancelToken()

    def run(self) -> None:
        try:
            self.watcher.watch(self.changed.emit, self.token, self.slice_seconds)
        except Exception as exc:  # an unreachable server: the window keeps working, unrefreshed
            logger.opt(exception=exc).warning("following the project's changes stopped")

    def stop(self) -> None:
        self.token.cancel()
        self.wait()
