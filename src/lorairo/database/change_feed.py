"""The store's change feed: a counter every stored batch of results (and every edit, undo and
registered batch) bumps, so a GUI on one machine sees what workers on others wrote without
re-reading everything.

On PostgreSQL the bump also sends `NOTIFY lorairo_changes` (delivered when its transaction
commits) and a watcher waits on `LISTEN`; on SQLite a watcher polls the one-row counter, a
single-page read.

A feed opened with `track_own=True` also learns which versions this process committed, so a
window that already refreshed after its own edit can skip the same change arriving from the feed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.orm import Session

from lorairo.database.engine import Database
from lorairo.database.schema import StoreChange

CHANNEL = "lorairo_changes"
POLL_SECONDS = 0.5
_BUMPED = "lorairo_bumped"  # Session.info key: versions this transaction counted

# Versions this process committed, per store, kept only while a feed tracks them: store key ->
# (tracking feeds, versions not yet consumed by them).
_own: dict[str, tuple[int, set[int]]] = {}
_own_lock = threading.Lock()


def _store_key(engine: Engine) -> str:
    """One key per store (file or PostgreSQL schema), whatever engine options a session used."""
    return engine.url.render_as_string(hide_password=False)


def bump(session: Session) -> None:
    """Count a change inside the writer's own transaction (so readers never see one early)."""
    version = session.execute(
        update(StoreChange)
        .where(StoreChange.id == 1)
        .values(version=StoreChange.version + 1)
        .returning(StoreChange.version)
    ).scalar()
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, "")))
    if version is None or not isinstance(bind, Engine):
        return
    key = _store_key(bind)
    with _own_lock:
        if key not in _own:
            return
        # ours from now: a follower woken by this commit's NOTIFY may ask before it returns here
        _own[key][1].add(int(version))
    if _BUMPED not in session.info:
        session.info[_BUMPED] = (key, [])
        event.listen(session, "after_rollback", _rolled_back)
    session.info[_BUMPED][1].append(int(version))


def _rolled_back(session: Session) -> None:
    """A rolled-back version is not ours: the next writer (perhaps elsewhere) counts it again."""
    key, versions = session.info.pop(_BUMPED, (None, []))
    with _own_lock:
        if key in _own:
            _own[key][1].difference_update(versions)


class ChangeFeed:
    """`version()` now; `wait(since, timeout)` blocks until it moves past `since` or time is up."""

    def __init__(
        self, database: Database, poll_seconds: float = POLL_SECONDS, *, track_own: bool = False
    ) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self._raw: Any = None
        self._listener: Any = None  # PostgreSQL: the psycopg connection in autocommit, LISTENing
        self._quiet_at: int | None = None  # the version a notice-less LISTEN wait ended on
        self._key = _store_key(database.engine) if track_own else None
        if self._key is not None:
            with _own_lock:
                feeds, versions = _own.get(self._key, (0, set()))
                _own[self._key] = (feeds + 1, versions)

    def version(self) -> int:
        with self.database.read_session() as session:
            return session.scalar(select(StoreChange.version).where(StoreChange.id == 1)) or 0

    @property
    def listens(self) -> bool:
        """PostgreSQL: `wait` blocks on LISTEN (else it polls)."""
        return self.database.engine.dialect.name == "postgresql"

    def wait(self, since: int, timeout: float, sleep: Callable[[float], object] = time.sleep) -> int:
        """The current version once it differs from `since`, or `since` after `timeout` seconds.
        `sleep` paces the SQLite polls; when it returns true (a cancel token's `wait`, set),
        waiting ends at once with `since`."""
        deadline = time.monotonic() + timeout
        if self.listens:
            self._listen()
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
                if not any(True for _ in self._listener.notifies(timeout=left, stop_after=1)):
                    self._quiet_at = since
                    return since
            elif sleep(min(self.poll_seconds, left)):
                return since

    def foreign(self, since: int, current: int) -> bool:
        """Whether another process made any of the changes after `since` up to `current`
        (always True without `track_own`); forgets this process's versions up to `current`."""
        if self._key is None:
            return current != since
        with _own_lock:
            own = _own[self._key][1]
            mine = sum(1 for version in own if since < version <= current)
            own.difference_update([version for version in own if version <= current])
        return current < since or mine < current - since

    def close(self) -> None:
        if self._listener is not None:
            self._listener.execute(f"UNLISTEN {CHANNEL}")
            self._listener.autocommit = False
            self._raw.close()
            self._listener = None
            self._quiet_at = None
        if self._key is not None:
            with _own_lock:
                feeds, versions = _own[self._key]
                if feeds > 1:
                    _own[self._key] = (feeds - 1, versions)
                else:
                    del _own[self._key]
            self._key = None

    def _listen(self) -> None:
        if self._listener is None:  # a pooled connection of its own, kept while this feed lives
            self._raw = self.database.engine.raw_connection()
            self._listener = self._raw.driver_connection
            self._listener.autocommit = True
            self._listener.execute(f"LISTEN {CHANNEL}")
