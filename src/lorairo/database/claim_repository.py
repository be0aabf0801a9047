"""The work queue: batches of (model, image) work, claimed under a lease, by runs and workers.

One mechanism for both ways of annotating:

- a plain `annotate run` turns each page of its selection into a work item it holds at once
  (`claim`); images another live run or the queue already holds are left to them;
- `annotate run --distributed` only enqueues items (`enqueue`), and `lorairo worker` processes,
  on any machine that reaches the database, take them one at a time (`claim_next`): `SELECT ...
  FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers never wait on each other's claims; on SQLite
  the claim runs under `BEGIN IMMEDIATE`, which serialises it.

A claim is a lease: the holder renews it (`heartbeat`) while it works; one killed outright stops
renewing, and once `lease_seconds` pass its item is claimable again. Finishing an item twice is
harmless: results replace a model's earlier rows whole (`annotation_repository`), and a unique
index keeps one row per (model, image, tag). Times are wall-clock seconds (`time.time()`),
comparable across processes and, with synchronised clocks, across machines.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from lorairo.database.choices import DEFAULT_LEASE_SECONDS
from lorairo.database.dialect import upsert
from lorairo.database.schema import ModelAnnotation, Worker, WorkItem, WorkItemImage

PENDING, CLAIMED, DONE = "pending", "claimed", "done"


def new_owner() -> str:
    """A claim owner unique to this process: host and pid for people, a random part for uniqueness."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ClaimedItem:
    id: int
    model_id: int
    image_ids: list[int]


@dataclass
class QueueProgress:
    """Images of a job (or of a model's queue) by state; `items_*` count batches."""

    images_pending: int = 0
    images_claimed: int = 0
    images_done: int = 0
    items_open: int = 0
    items_done: int = 0

    @property
    def images_total(self) -> int:
        return self.images_pending + self.images_claimed + self.images_done

    def to_dict(self) -> dict[str, int]:
        return asdict(self) | {"images_total": self.images_total}


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    model_name: str
    started_at: float
    heartbeat_at: float
    batches_done: int
    images_done: int
    stopped: bool

    @property
    def images_per_second(self) -> float:
        seconds = self.heartbeat_at - self.started_at
        return self.images_done / seconds if seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"images_per_second": round(self.images_per_second, 3)}


def _claimable(now: float) -> Any:
    """Pending, or claimed by a holder whose lease has lapsed."""
    return or_(
        WorkItem.state == PENDING,
        and_(WorkItem.state == CLAIMED, WorkItem.lease_expires_at < now),
    )


# One step of a caller's write transaction (see `ClaimRepository.completion`).
SessionStep = Callable[[Session], None]


class ClaimRepository:
    """Who claims (`owner`) and for how long (`lease_seconds`); every method works inside the
    caller's session and never opens or commits one. The transaction kind is part of a claim's
    correctness, so callers (`services/work_queue.py`) run each method in its own short
    transaction: `write_session()` for everything that writes, except `claim_next`, which takes
    `write_session(serialized=False)` on PostgreSQL's row locks (`SKIP LOCKED`)."""

    def __init__(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.owner = owner or new_owner()
        self.lease_seconds = lease_seconds

    # -- plain runs: claim a page of the run's own selection -----------------------------------

    def claim(
        self,
        session: Session,
        model_id: int,
        image_ids: Sequence[int],
        *,
        skip_done: bool,
        now: float | None = None,
    ) -> ClaimedItem | None:
        """A new item, held by this owner, of the ids no open item holds (and, with `skip_done`,
        not annotated yet); images of lapsed items move to it. Run it as one write transaction, so
        two runs never both get an image. Also renews this owner's other leases."""
        now = time.time() if now is None else now
        wanted = list(dict.fromkeys(image_ids))
        if not wanted:
            return None
        self._renew(session, now)
        held = session.execute(
            select(WorkItemImage.image_id, WorkItem.id, _claimable(now))
            .join(WorkItem, WorkItem.id == WorkItemImage.work_item_id)
            .where(WorkItemImage.model_id == model_id, WorkItemImage.image_id.in_(wanted))
        ).all()
        taken = {image_id for image_id, _, lapsed in held if not lapsed}
        lapsed_items = {item_id for _, item_id, lapsed in held if lapsed}
        if skip_done:
            taken.update(
                session.scalars(
                    select(ModelAnnotation.image_id).where(
                        ModelAnnotation.model_id == model_id, ModelAnnotation.image_id.in_(wanted)
                    )
                )
            )
        free = [image_id for image_id in wanted if image_id not in taken]
        if not free:
            return None
        session.execute(
            delete(WorkItemImage).where(WorkItemImage.model_id == model_id, WorkItemImage.image_id.in_(free))
        )
        self._resize(session, lapsed_items)
        item_id = self._new_item(session, self.owner, model_id, free, now, held=True)
        return ClaimedItem(item_id, model_id, free)

    # -- distributed: enqueue, then workers take items ------------------------------------------

    def enqueue(
        self, session: Session, job: str, model_id: int, image_ids: Sequence[int], now: float | None = None
    ) -> int:
        """Queue one item of the ids no open item holds yet; returns how many were queued."""
        now = time.time() if now is None else now
        wanted = list(dict.fromkeys(image_ids))
        if not wanted:
            return 0
        held = set(
            session.scalars(
                select(WorkItemImage.image_id).where(
                    WorkItemImage.model_id == model_id, WorkItemImage.image_id.in_(wanted)
                )
            )
        )
        free = [image_id for image_id in wanted if image_id not in held]
        if free:
            self._new_item(session, job, model_id, free, now, held=False)
        return len(free)

    def claim_next(self, session: Session, model_id: int, now: float | None = None) -> ClaimedItem | None:
        """Take the oldest claimable item of this model. Rows other workers are claiming right now
        are skipped, not waited for (`SKIP LOCKED`; SQLite serialises the transaction instead)."""
        now = time.time() if now is None else now
        # Row locks alone keep claims apart, so on PostgreSQL the caller skips the writer lock.
        # One statement takes and marks the item (the queue's usual `UPDATE ... WHERE id =
        # (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`): a round trip fewer per batch.
        oldest = (
            select(WorkItem.id)
            .where(WorkItem.model_id == model_id, _claimable(now))
            .order_by(WorkItem.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        item_id = session.scalar(
            update(WorkItem)
            .where(WorkItem.id == oldest)
            .values(
                state=CLAIMED,
                owner=self.owner,
                lease_expires_at=now + self.lease_seconds,
                attempts=WorkItem.attempts + 1,
            )
            .returning(WorkItem.id)
            .execution_options(synchronize_session=False)
        )
        if item_id is None:
            return None
        image_ids = list(
            session.scalars(
                select(WorkItemImage.image_id)
                .where(WorkItemImage.work_item_id == item_id)
                .order_by(WorkItemImage.image_id)
            )
        )
        return ClaimedItem(item_id, model_id, image_ids)

    def completion(self, item_id: int, images: int, now: float | None = None) -> SessionStep:
        """Marking an item done (its images are free for later runs) and counting it to this
        worker, as a step of a write transaction: usually the one storing the item's results, so
        an item is done exactly when its results are in. A second finisher changes nothing."""

        def finish(session: Session) -> None:
            when = time.time() if now is None else now
            finished = session.execute(
                update(WorkItem)
                .where(WorkItem.id == item_id, WorkItem.state != DONE)
                .values(state=DONE, owner=self.owner, lease_expires_at=None, finished_at=when)
            )
            session.execute(delete(WorkItemImage).where(WorkItemImage.work_item_id == item_id))
            if finished.rowcount:  # type: ignore[attr-defined]
                session.execute(
                    update(Worker)
                    .where(Worker.id == self.owner)
                    .values(
                        batches_done=Worker.batches_done + 1,
                        images_done=Worker.images_done + images,
                        heartbeat_at=when,
                    )
                )

        return finish

    def release(self, session: Session) -> None:
        """Give back what this owner holds: its own plain-run items go, queue items it holds
        return to the queue for other workers at once (no lease to wait out)."""
        session.execute(delete(WorkItem).where(WorkItem.job == self.owner))
        session.execute(
            update(WorkItem)
            .where(WorkItem.owner == self.owner, WorkItem.state == CLAIMED)
            .values(state=PENDING, owner=None, lease_expires_at=None)
        )
        session.execute(update(Worker).where(Worker.id == self.owner).values(stopped=True))

    def forget(
        self, session: Session, *, job: str | None = None, finished_before: float | None = None
    ) -> int:
        """Delete done items (of one job, or finished before a time): they only served progress."""
        condition = [WorkItem.state == DONE]
        if job is not None:
            condition.append(WorkItem.job == job)
        if finished_before is not None:
            condition.append(WorkItem.finished_at < finished_before)
        result = session.execute(delete(WorkItem).where(*condition))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def progress(
        self, session: Session, *, job: str | None = None, model_id: int | None = None
    ) -> QueueProgress:
        """Images and items by state, for one job or one model's whole queue."""
        query = select(WorkItem.state, func.count(), func.coalesce(func.sum(WorkItem.size), 0)).group_by(
            WorkItem.state
        )
        if job is not None:
            query = query.where(WorkItem.job == job)
        if model_id is not None:
            query = query.where(WorkItem.model_id == model_id)
        found = QueueProgress()
        for state, items, images in session.execute(query):
            if state == DONE:
                found.images_done, found.items_done = int(images), items
            else:
                found.items_open += items
                if state == PENDING:
                    found.images_pending += int(images)
                else:
                    found.images_claimed += int(images)
        return found

    # -- workers and heartbeats ----------------------------------------------------------------

    def register_worker(self, session: Session, model_name: str, now: float | None = None) -> None:
        """Start (or, for an owner that worked before, restart) this worker's heartbeat row."""
        now = time.time() if now is None else now
        row = {
            "id": self.owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "model_name": model_name,
            "started_at": now,
            "heartbeat_at": now,
            "batches_done": 0,
            "images_done": 0,
            "stopped": False,
        }
        statement = upsert(session, Worker).values(row)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[Worker.id], set_={k: v for k, v in row.items() if k != "id"}
            )
        )

    def heartbeat(self, session: Session, now: float | None = None) -> None:
        """This worker is alive: renew the leases of the items it holds."""
        now = time.time() if now is None else now
        self._renew(session, now)

    def workers(
        self, session: Session, *, stale_after: float, include_stopped: bool = False
    ) -> list[WorkerRow]:
        """Workers whose heartbeat is newer than `stale_after` seconds (all of them with
        `include_stopped`), busiest first."""
        query = select(Worker).order_by(Worker.images_done.desc(), Worker.id)
        if not include_stopped:
            query = query.where(Worker.stopped.is_(False), Worker.heartbeat_at > time.time() - stale_after)
        return [
            WorkerRow(
                w.id,
                w.host,
                w.pid,
                w.model_name,
                w.started_at,
                w.heartbeat_at,
                w.batches_done,
                w.images_done,
                w.stopped,
            )
            for w in session.scalars(query)
        ]

    # -- helpers -------------------------------------------------------------------------------

    def _renew(self, session: Session, now: float) -> None:
        session.execute(
            update(WorkItem)
            .where(WorkItem.owner == self.owner, WorkItem.state == CLAIMED)
            .values(lease_expires_at=now + self.lease_seconds)
        )
        session.execute(update(Worker).where(Worker.id == self.owner).values(heartbeat_at=now))

    def _new_item(
        self, session: Session, job: str, model_id: int, image_ids: list[int], now: float, *, held: bool
    ) -> int:
        item = WorkItem(
            job=job,
            model_id=model_id,
            size=len(image_ids),
            state=CLAIMED if held else PENDING,
            owner=self.owner if held else None,
            lease_expires_at=now + self.lease_seconds if held else None,
            attempts=1 if held else 0,
            created_at=now,
        )
        session.add(item)
        session.flush()
        rows = [{"model_id": model_id, "image_id": i, "work_item_id": item.id} for i in image_ids]
        session.execute(upsert(session, WorkItemImage).values(rows).on_conflict_do_nothing())
        return item.id

    @staticmethod
    def _resize(session: Session, item_ids: set[int]) -> None:
        """Items that lost images to another claim count what they still hold; empty ones go."""
        if not item_ids:
            return
        remaining = (
            select(func.count())
            .where(WorkItemImage.work_item_id == WorkItem.id)
            .correlate(WorkItem)
            .scalar_subquery()
        )
        session.execute(
            update(WorkItem)
            .where(WorkItem.id.in_(item_ids))
            .values(size=remaining)
            .execution_options(synchronize_session=False)
        )
        session.execute(delete(WorkItem).where(WorkItem.id.in_(item_ids), WorkItem.size == 0))
