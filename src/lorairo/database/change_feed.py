"""The store's change feed: a counter every stored batch of results bumps, so a GUI on one
machine sees what workers on others wrote without re-reading everything.

On PostgreSQL the bump also sends `NOTIFY lorairo_changes` (delivered when its transaction
commits) and a watcher waits on `LISTEN`; on SQLite a watcher polls the one-row counter, a
single-page read.
"""

from __future__ import annotations

import time
from typing import Any

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


class ChangeFeed:
    """`version()` now; `wait(since, timeout)` blocks until it moves past `since` or time is up."""

    def __init__(self, database: Database, poll_seconds: float = POLL_SECONDS) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self._raw: Any = None
        self._listener: Any = None  # PostgreSQL: the psycopg connection in autocommit, LISTENing

    def version(self) -> int:
        with self.database.read_session() as session:
            return session.scalar(select(StoreChange.version).where(StoreChange.id == 1)) or 0

    def wait(self, since: int, timeout: float) -> int:
        """The current version once it differs from `since`, or `since` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if self.database.engine.dialect.name == "postgresql":
            self._listen()
        while True:
            current = self.version()
            left = deadline - time.monotonic()
            if current != since or left <= 0:
                return current
            if self._listener is not None:
                for _ in self._listener.notifies(timeout=left, stop_after=1):
                    pass
            else:
                time.sleep(min(self.poll_seconds, left))

    def close(self) -> None:
        if self._listener is not None:
            self._listener.execute(f"UNLISTEN {CHANNEL}")
            self._listener.autocommit = False
            self._raw.close()
            self._listener = None

    def _listen(self) -> None:
        if self._listener is None:  # a pooled connection of its own, kept while this feed lives
            self._raw = self.database.engine.raw_connection()
            self._listener = self._raw.driver_connection
            self._listener.autocommit = True
            self._listener.execute(f"LISTEN {CHANNEL}")
