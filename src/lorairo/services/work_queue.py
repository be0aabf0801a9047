"""The work queue's transactions: one short unit of work per claim operation.

`database/claim_repository.py` holds the queries and runs inside a session it is given; this is
where those sessions are opened, because the kind of transaction is part of each operation's
correctness:

- a claim, enqueue, completion, release or heartbeat is its own `write_session()`: under the
  writer lock (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock), so two runs never both
  take an image;
- `claim_next` is `write_session(serialized=False)`: on PostgreSQL it relies on `FOR UPDATE
  SKIP LOCKED` row locks alone, so workers never queue behind each other or behind an edit;
- reads (progress, workers) are read sessions.

Nothing is held between calls: a killed process leaves at most a lease to lapse.
"""

from __future__ import annotations

from collections.abc import Sequence

from lorairo.database.claim_repository import (
    DEFAULT_LEASE_SECONDS,
    ClaimedItem,
    ClaimRepository,
    QueueProgress,
    SessionStep,
    WorkerRow,
)
from lorairo.database.engine import Database


class WorkQueue:
    """One owner's view of the queue (a run or a worker), each call its own transaction."""

    def __init__(
        self, database: Database, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> None:
        self.database = database
        self.repository = ClaimRepository(owner, lease_seconds)

    @property
    def owner(self) -> str:
        return self.repository.owner

    @property
    def lease_seconds(self) -> float:
        return self.repository.lease_seconds

    def claim(
        self, model_id: int, image_ids: Sequence[int], *, skip_done: bool, now: float | None = None
    ) -> ClaimedItem | None:
        with self.database.write_session() as session:
            return self.repository.claim(session, model_id, image_ids, skip_done=skip_done, now=now)

    def enqueue(self, job: str, model_id: int, image_ids: Sequence[int], now: float | None = None) -> int:
        with self.database.write_session() as session:
            return self.repository.enqueue(session, job, model_id, image_ids, now)

    def claim_next(self, model_id: int, now: float | None = None) -> ClaimedItem | None:
        with self.database.write_session(serialized=False) as session:
            return self.repository.claim_next(session, model_id, now)

    def complete(self, item_id: int, images: int, now: float | None = None) -> None:
        """Mark an item done on its own (a batch with nothing to store)."""
        with self.database.write_session() as session:
            self.repository.completion(item_id, images, now)(session)

    def completion(self, item_id: int, images: int, now: float | None = None) -> SessionStep:
        """`complete` as the last step of the transaction that stores the item's results."""
        return self.repository.completion(item_id, images, now)

    def release(self) -> None:
        with self.database.write_session() as session:
            self.repository.release(session)

    def forget(self, *, job: str | None = None, finished_before: float | None = None) -> int:
        with self.database.write_session() as session:
            return self.repository.forget(session, job=job, finished_before=finished_before)

    def progress(self, *, job: str | None = None, model_id: int | None = None) -> QueueProgress:
        with self.database.read_session() as session:
            return self.repository.progress(session, job=job, model_id=model_id)

    def register_worker(self, model_name: str, now: float | None = None) -> None:
        with self.database.write_session() as session:
            self.repository.register_worker(session, model_name, now)

    def heartbeat(self, now: float | None = None) -> None:
        with self.database.write_session() as session:
            self.repository.heartbeat(session, now)

    def workers(self, *, stale_after: float, include_stopped: bool = False) -> list[WorkerRow]:
        with self.database.read_session() as session:
            return self.repository.workers(session, stale_after=stale_after, include_stopped=include_stopped)
