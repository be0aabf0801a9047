"""Following a project's changes from other processes and machines (workers storing results),
for a view that should refresh when the store changes: LISTEN/NOTIFY on PostgreSQL, polling a
one-row counter on SQLite (`database/change_feed.py`). UI-free: the GUI runs `watch` in a worker
thread and refreshes on each call of `on_change`."""

from __future__ import annotations

import time
from collections.abc import Callable

from lorairo.database.change_feed import POLL_SECONDS, Listener, version
from lorairo.services.progress import CancelToken
from lorairo.services.project_service import Project


class ChangeWatcher:
    def __init__(self, project: Project, poll_seconds: float = POLL_SECONDS) -> None:
        self.database = project.database
        self.poll_seconds = poll_seconds
        self._listener: Listener | None = None  # PostgreSQL, opened on the first wait

    def version(self) -> int:
        """The store's change counter now; pass it to `wait` to learn of later changes."""
        with self.database.read_session() as session:
            return version(session)

    def wait(self, since: int, timeout: float) -> int:
        """The counter once it moves past `since`, or `since` when `timeout` seconds pass first.
        Each look at the counter is its own short read (no snapshot held while waiting)."""
        deadline = time.monotonic() + timeout
        if self.database.dialect == "postgresql" and self._listener is None:
            self._listener = Listener(self.database)
        while True:
            current = self.version()
            left = deadline - time.monotonic()
            if current != since or left <= 0:
                return current
            if self._listener is not None:
                self._listener.wait(left)
            else:
                time.sleep(min(self.poll_seconds, left))

    def watch(
        self, on_change: Callable[[int], None], cancel: CancelToken, slice_seconds: float = 1.0
    ) -> None:
        """Call `on_change(version)` after each change (several quick ones may arrive as one)
        until `cancel` is set; checks the token at least every `slice_seconds`."""
        seen = self.version()
        try:
            while not cancel.cancelled:
                current = self.wait(seen, slice_seconds)
                if current != seen and not cancel.cancelled:
                    seen = current
                    on_change(current)
        finally:
            self.close()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
