"""The work queue: plain runs' claims, enqueue, SKIP LOCKED-style claims, leases and idempotent ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lorairo.database.schema import Tag, WorkItem, WorkItemImage
from lorairo.services.annotation_service import AnnotationService
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project
from lorairo.services.work_queue import WorkQueue
from tests.annotation.helpers import BLUE, RED, add_solid_image


def _held(project: Project, model_id: int) -> dict[int, str | None]:
    """Image id -> owner of the open item holding it, read from the tables themselves."""
    with project.database.read_session() as session:
        rows = session.execute(
            select(WorkItemImage.image_id, WorkItem.owner)
            .join(WorkItem, WorkItem.id == WorkItemImage.work_item_id)
            .where(WorkItemImage.model_id == model_id, WorkItem.state != "done")
        )
        return {image_id: owner for image_id, owner in rows}


def test_claims_are_exclusive_until_the_lease_lapses(project: Project) -> None:
    ids = [add_solid_image(project, f"{i}.png", RED) for i in range(4)]
    model = AnnotationStore(project.database).ensure_model("m", provider="local", kind="tagger")
    first = WorkQueue(project.database, "first", lease_seconds=60)
    second = WorkQueue(project.database, "second", lease_seconds=60)
    now = time.time()
    got = first.claim(model, ids[:3], skip_done=True, now=now)
    assert got is not None and got.image_ids == ids[:3]
    got = second.claim(model, ids, skip_done=True, now=now + 1)
    assert got is not None and got.image_ids == ids[3:]
    assert first.claim(model, ids[3:], skip_done=True, now=now + 30) is None  # renews its own only
    # 60 s after its last renewal the first run counts as dead: its images are free again.
    got = second.claim(model, ids, skip_done=True, now=now + 91)
    assert got is not None and got.image_ids == ids[:3]
    assert set(_held(project, model).values()) == {"second"}
    second.release()
    assert _held(project, model) == {}


def test_enqueue_queues_each_image_once_and_workers_split_the_items(project: Project) -> None:
    ids = [add_solid_image(project, f"{i}.png", BLUE) for i in range(6)]
    model = AnnotationStore(project.database).ensure_model("m", provider="local", kind="tagger")
    queue = WorkQueue(project.database, "enqueuer")
    assert queue.enqueue("job", model, ids[:4]) == 4
    assert queue.enqueue("job", model, ids) == 2  # the first four are already queued
    a = WorkQueue(project.database, "a", lease_seconds=10)
    b = WorkQueue(project.database, "b", lease_seconds=10)
    now = time.time()
    first, second = a.claim_next(model, now), b.claim_next(model, now)
    assert first is not None and second is not None
    assert (first.image_ids, second.image_ids) == (ids[:4], ids[4:])
    assert a.claim_next(model, now) is None  # both held, leases live
    # A plain run leaves queued images to the workers.
    assert WorkQueue(project.database, "run").claim(model, ids, skip_done=False) is None
    # `a` dies: after its lease, `b` takes its item; `a`'s late finish counts nothing twice.
    retaken = b.claim_next(model, now + 11)
    assert retaken is not None and retaken.id == first.id
    b.complete(first.id, len(first.image_ids))
    a.complete(first.id, len(first.image_ids))
    progress = queue.progress(job="job")
    assert (progress.images_done, progress.images_claimed, progress.items_open) == (4, 2, 1)
    b.release()  # a stopping worker hands its item back at once
    assert queue.progress(job="job").images_pending == 2


def test_a_batch_stored_twice_is_stored_once(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    ids = [add_solid_image(project, f"{i}.png", RED if i % 2 else BLUE) for i in range(4)]
    service = AnnotationService(project, config)
    service.enqueue(["colour-tagger"], "missing", batch_size=4)
    first = service.work("colour-tagger", until_empty=True)
    with project.database.read_session() as session:
        stored = session.scalar(select(func.count()).select_from(Tag))
    # Another worker that had the same item (its holder presumed dead) stores it again.
    again = AnnotationService(project, config)
    again.enqueue(["colour-tagger"], ids, batch_size=4)
    second = again.work("colour-tagger", until_empty=True)
    with project.database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == stored
    assert first.images_annotated == second.images_annotated == 4
    assert stored and stored > 0


def test_a_run_skips_images_another_run_holds_and_takes_them_once_its_lease_lapses(
    project: Project, config: ConfigurationService, colour_model: Path
) -> None:
    ids = [add_solid_image(project, f"{i}.png", RED if i % 2 else BLUE) for i in range(6)]
    service = AnnotationService(project, config)
    model_id = service.repository.ensure_model("colour-tagger", provider="local", kind="tagger")
    WorkQueue(project.database, "killed-run", lease_seconds=60).claim(model_id, ids[:2], skip_done=True)

    report = service.run(["colour-tagger"], batch_size=2)
    assert (report.images_annotated, report.claimed_by_other_runs) == (4, 2)
    assert set(_held(project, model_id)) == set(ids[:2])  # only the other run's remain

    # Once the killed run's lease has lapsed, the next run annotates what it held.
    WorkQueue(project.database, "killed-run", lease_seconds=-1).heartbeat()  # lease into the past
    again = AnnotationService(project, config).run(["colour-tagger"], batch_size=2)
    assert (again.images_annotated, again.claimed_by_other_runs) == (2, 0)
    assert _held(project, model_id) == {}


def test_on_postgresql_a_claim_skips_an_item_another_worker_is_claiming(project: Project) -> None:
    """`FOR UPDATE SKIP LOCKED`: while one transaction holds the first item's row, another worker
    gets the next item at once instead of waiting (SQLite serialises claims instead)."""
    if project.database.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite claims one at a time under BEGIN IMMEDIATE")
    ids = [add_solid_image(project, f"{i}.png", RED) for i in range(4)]
    model = AnnotationStore(project.database).ensure_model("m", provider="local", kind="tagger")
    queue = WorkQueue(project.database, "enqueuer")
    queue.enqueue("job", model, ids[:2])
    queue.enqueue("job", model, ids[2:])
    locked, release = threading.Event(), threading.Event()

    def hold_first_item() -> None:
        with project.database.write_session(serialized=False) as session:
            session.execute(select(WorkItem.id).order_by(WorkItem.id).limit(1).with_for_update())
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold_first_item)
    holder.start()
    try:
        assert locked.wait(30)
        got = WorkQueue(project.database, "worker").claim_next(model)
    finally:
        release.set()
        holder.join()
    # The second item: the first was skipped (a plain FOR UPDATE would wait out the holder, then
    # take the first).
    assert got is not None and got.image_ids == ids[2:]


def test_on_postgresql_stored_batches_share_the_writer_lock_and_edits_wait_for_them(project: Project) -> None:
    """Workers' result transactions (`shared=True`) hold the writer lock together; an ordinary
    writer (an edit) starts only once none of them is open, so it never interleaves with a batch."""
    if project.database.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time, shared or not")
    database = project.database
    first_open, release = threading.Event(), threading.Event()
    edit_started = threading.Event()

    def batch() -> None:
        with database.write_session(shared=True) as session:
            session.execute(select(1))  # the lock comes with the transaction's first statement
            first_open.set()
            release.wait(30)

    def edit() -> None:
        with database.write_session() as session:
            session.execute(select(1))
            edit_started.set()

    holder = threading.Thread(target=batch)
    holder.start()
    try:
        assert first_open.wait(30)
        with database.write_session(shared=True) as session:  # a second batch gets in beside the first
            session.execute(select(1))
        editor = threading.Thread(target=edit)
        editor.start()
        assert not edit_started.wait(1.0)  # the edit waits while a batch is open
    finally:
        release.set()
        holder.join()
    editor.join(30)
    assert edit_started.is_set()
