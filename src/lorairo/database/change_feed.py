"""The store's change feed: a counter every stored batch of results bumps, so a GUI on one
machine sees what workers on others wrote without re-reading everything.

On PostgreSQL the bump also sends `NOTIFY lorairo_changes` (delivered when its transaction
commits) and a watcher waits on `LISTEN`; on SQLite a watcher polls the one-row counter, a
single-page read.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lorairo.database.engine import Database
from lorairo.database.schema import StoreChange

CHANNEL = "lorairo_changes"
POLL_SECONDS = 0.5


def bump(session: Session) -> None:
    """Count a change inside the writer's own transaction (so readers never see one early)."""
    session.execute(update(StoreChange).where(StoreChange.id == 1).values(version=StoreChange.version + 1))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, "")))


def version(session: Session) -> int:
    """The counter now (a single-page read)."""
    return session.scalar(select(StoreChange.version).where(StoreChange.id == 1)) or 0


class Listener:
    """PostgreSQL only: a pooled connection of its own in autocommit, LISTENing on `CHANNEL` while
    this object lives. It holds no transaction; the caller reads `version` in its own sessions."""

    def __init__(self, database: Database) -> None:
        self._raw = database.engine.raw_connection()
        self._connection: Any = cast(Any, self._raw.driver_connection)
        self._connection.autocommit = True
        self._connection.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> None:
        """Return after the next notification, or after `timeout` seconds."""
        for _ in self._connection.notifies(timeout=timeout, stop_after=1):
            pass

    def close(self) -> None:
        self._connection.execute(f"UNLISTEN {CHANNEL}")
        self._connection.autocommit = False
        self._raw.close()
