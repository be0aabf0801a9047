"""Following a project's changes from other processes and machines (workers storing results),
for a view that should refresh when the store changes: LISTEN/NOTIFY on PostgreSQL, polling a
one-row counter on SQLite (`database/change_feed.py`). UI-free: the GUI runs `watch` in a worker
thread and refreshes on each call of `on_change`. With `ignore_own`, changes this process
committed itself (the window's own edits, which it has refreshed after already) call nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

from lorairo.database.change_feed import POLL_SECONDS, Listener, foreign, track_own, untrack_own, version
from lorairo.services.progress import CancelToken
from lorairo.services.project_service import Project

POLL_SLICE_SECONDS = 3600.0


class ChangeWatcher:
    def __init__(
        self, project: Project, poll_seconds: float = POLL_SECONDS, *, ignore_own: bool = False
    ) -> None:
        self.database = project.database
        self.poll_seconds = poll_seconds
        self._listener: Listener | None = None  # PostgreSQL, opened on the first wait
        self._quiet_at: int | None = None  # the version a notice-less LISTEN wait ended on
        self._own_key = track_own(project.database) if ignore_own else None

    @property
    def listens(self) -> bool:
        """PostgreSQL: `wait` blocks on LISTEN (else it polls)."""
        return self.database.dialect == "postgresql"

    def version(self) -> int:
        """The store's change counter now; pass it to `wait` to learn of later changes."""
        with self.database.read_session() as session:
            return version(session)

    def wait(self, since: int, timeout: float, sleep: Callable[[float], object] = time.sleep) -> int:
        """The counter once it differs from `since`, or `since` after `timeout` seconds. Each look
        at the counter is its own short read (no snapshot held while waiting). `sleep` paces the
        SQLite polls; when it returns true (a cancel token's `wait`, set), waiting ends at once."""
        deadline = time.monotonic() + timeout
        if self.listens and self._listener is None:
            self._listener = Listener(self.database)
        # LISTENing, a wait that timed out without a notice knows the counter unchanged since
        # its read: the next wait from that version skips the read (one per notice, not per wait)
        quiet, self._quiet_at = self._quiet_at == since, None
        while True:
            current = since if quiet else self.version()
            quiet = False
            left = deadline - time.monotonic()
            if current != since or left <= 0:
                return current
            if self._listener is not None:
                # LISTEN came before the read above, so no notice means no commit since it
                if not self._listener.wait(left):
                    self._quiet_at = since
                    return since
            elif sleep(min(self.poll_seconds, left)):
                return since

    def foreign(self, since: int, current: int) -> bool:
        """Whether another process made any of the changes after `since` up to `current`
        (always, unless `ignore_own`)."""
        if self._own_key is None:
            return current != since
        return foreign(self._own_key, since, current)

    def watch(
        self, on_change: Callable[[int], None], cancel: CancelToken, slice_seconds: float = 1.0
    ) -> None:
        """Call `on_change(version)` after each change (several quick ones may arrive as one)
        until `cancel` is set; checks the token at least every `slice_seconds` while blocked on
        LISTEN (PostgreSQL). Polls (SQLite) end at once when it is set, so they run in one long
        wait: one counter read per poll, none extra per slice."""
        seen = self.version()
        timeout = slice_seconds if self.listens else max(slice_seconds, POLL_SLICE_SECONDS)
        try:
            while not cancel.cancelled:
                current = self.wait(seen, timeout, cancel.wait)
                if current != seen and not cancel.cancelled:
                    is_foreign = self.foreign(seen, current)
                    seen = current
                    if is_foreign:
                        on_change(current)
        finally:
            self.close()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            self._quiet_at = None
        if self._own_key is not None:
            untrack_own(self._own_key)
            self._own_key = None
