"""Following a project's changes from other processes and machines (workers storing results),
for a view that should refresh when the store changes: LISTEN/NOTIFY on PostgreSQL, polling a
one-row counter on SQLite (`database/change_feed.py`). UI-free: the GUI runs `watch` in a worker
thread and refreshes on each call of `on_change`. With `ignore_own`, changes this process
committed itself (the window's own edits, which it has refreshed after already) call nothing."""

from __future__ import annotations

from collections.abc import Callable

from lorairo.database.change_feed import POLL_SECONDS, ChangeFeed
from lorairo.services.progress import CancelToken
from lorairo.services.project_service import Project

POLL_SLICE_SECONDS = 3600.0


class ChangeWatcher:
    def __init__(
        self, project: Project, poll_seconds: float = POLL_SECONDS, *, ignore_own: bool = False
    ) -> None:
        self.feed = ChangeFeed(project.database, poll_seconds, track_own=ignore_own)

    def version(self) -> int:
        """The store's change counter now; pass it to `wait` to learn of later changes."""
        return self.feed.version()

    def wait(self, since: int, timeout: float) -> int:
        """The counter once it moves past `since`, or `since` when `timeout` seconds pass first."""
        return self.feed.wait(since, timeout)

    def watch(
        self, on_change: Callable[[int], None], cancel: CancelToken, slice_seconds: float = 1.0
    ) -> None:
        """Call `on_change(version)` after each change (several quick ones may arrive as one)
        until `cancel` is set; checks the token at least every `slice_seconds` while blocked on
        LISTEN (PostgreSQL). Polls (SQLite) end at once when it is set, so they run in one long
        wait: one counter read per poll, none extra per slice."""
        seen = self.version()
        timeout = slice_seconds if self.feed.listens else max(slice_seconds, POLL_SLICE_SECONDS)
        try:
            while not cancel.cancelled:
                current = self.feed.wait(seen, timeout, cancel.wait)
                if current != seen and not cancel.cancelled:
                    foreign = self.feed.foreign(seen, current)
                    seen = current
                    if foreign:
                        on_change(current)
        finally:
            self.feed.close()

    def close(self) -> None:
        self.feed.close()
