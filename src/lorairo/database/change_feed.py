"""The store's change feed: a counter every stored batch of results (and every edit, undo and
registered batch) bumps, so a GUI on one machine sees what workers on others wrote without
re-reading everything.

On PostgreSQL the bump also sends `NOTIFY lorairo_changes` (delivered when its transaction
commits) and a watcher waits on `LISTEN`; on SQLite a watcher polls the one-row counter, a
single-page read.

While a watcher tracks its store (`track_own`), `bump` also records which versions this process
committed, so a window that already refreshed after its own edit can skip the same change arriving
from the feed (`foreign`). Nothing here opens a transaction: `services/change_watch.py` does.
"""

from __future__ import annotations

import threading
from typing import Any, cast

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
    bind = session.get_bind()
    counted = (
        update(StoreChange)
        .where(StoreChange.id == 1)
        .values(version=StoreChange.version + 1)
        .returning(StoreChange.version)
    )
    if bind.dialect.name == "postgresql":  # the NOTIFY rides along: one round trip, not two
        counted = counted.returning(func.pg_notify(CHANNEL, ""))
    version = session.execute(counted).scalar()
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


def version(session: Session) -> int:
    """The counter now (a single-page read)."""
    return session.scalar(select(StoreChange.version).where(StoreChange.id == 1)) or 0


def track_own(database: Database) -> str:
    """Start recording this process's versions of the store; the key for `foreign`/`untrack_own`."""
    key = _store_key(database.engine)
    with _own_lock:
        trackers, versions = _own.get(key, (0, set()))
        _own[key] = (trackers + 1, versions)
    return key


def untrack_own(key: str) -> None:
    with _own_lock:
        trackers, versions = _own[key]
        if trackers > 1:
            _own[key] = (trackers - 1, versions)
        else:
            del _own[key]


def foreign(key: str, since: int, current: int) -> bool:
    """Whether another process made any of the changes after `since` up to `current`; forgets
    this process's versions up to `current`."""
    with _own_lock:
        own = _own[key][1]
        mine = sum(1 for version in own if since < version <= current)
        own.difference_update([version for version in own if version <= current])
    return current < since or mine < current - since


class Listener:
    """PostgreSQL only: a pooled connection of its own in autocommit, LISTENing on `CHANNEL` while
    this object lives. It holds no transaction; the caller reads `version` in its own sessions."""

    def __init__(self, database: Database) -> None:
        self._raw = database.engine.raw_connection()
        self._connection: Any = cast(Any, self._raw.driver_connection)
        self._connection.autocommit = True
        self._connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """Whether a notice came within `timeout` seconds (returns at the first)."""
        return any(True for _ in self._connection.notifies(timeout=timeout, stop_after=1))

    def close(self) -> None:
        self._connection.execute(f"UNLISTEN {CHANNEL}")
        self._connection.autocommit = False
        self._raw.close()
