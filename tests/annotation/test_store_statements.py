"""What one stored batch costs the database: a fixed number of statements, whatever its size.

On PostgreSQL every statement is a round trip and a plan, and a row trigger runs per row; a batch
stored row by row (an executemany is one statement per row there) made the server the bottleneck
of several workers on one machine. Counted with an engine event, so the figures are exact.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from image_annotator_lib.core.types import AnnotationFailure, AnnotationResult, TagPrediction
from lorairo.database.schema import Caption, Rating, Score, Tag
from lorairo.services.annotation_store import AnnotationStore
from lorairo.services.project_service import Project
from lorairo.services.work_queue import WorkQueue
from tests.annotation.helpers import RED, add_solid_image


def _result(index: int) -> AnnotationResult:
    tags = [TagPrediction(f"tag {index % 3} {k}", 0.5 + k / 20) for k in range(6)]
    return AnnotationResult(
        "m", tags=tags, rating="general", rating_confidence=0.9, score=5.0, caption=f"caption {index}"
    )


def _statements(project: Project, store: AnnotationStore, model: int, ids: list[int]) -> int:
    """Statements the server runs to store `ids` (an executemany counts each of its rows) and
    mark their work item done, the way a worker stores a batch."""
    queue = WorkQueue(project.database, "worker")
    queue.enqueue("job", model, ids)
    item = queue.claim_next(model)
    assert item is not None
    results = [(i, _result(i)) for i in ids[:-1]]
    results.append((ids[-1], AnnotationResult("m", failure=AnnotationFailure("model_error", "boom"))))
    count = 0

    def counted(_conn: Any, _cursor: Any, _sql: str, params: Any, _context: Any, many: bool) -> None:
        nonlocal count
        count += len(params) if many else 1

    event.listen(project.database.engine, "before_cursor_execute", counted)
    try:
        store.save_results(model, "m", "local", results, and_then=queue.completion(item.id, len(ids)))
    finally:
        event.remove(project.database.engine, "before_cursor_execute", counted)
    return count


def test_on_postgresql_a_stored_batch_is_a_fixed_number_of_statements(project: Project) -> None:
    if project.database.dialect != "postgresql":
        pytest.skip("SQLite runs in process: an executemany there costs no round trips")
    ids = [add_solid_image(project, f"{i}.png", RED) for i in range(40)]
    store = AnnotationStore(project.database)
    model = store.ensure_model("m", provider="local", kind="tagger")
    small, large = _statements(project, store, model, ids[:4]), _statements(project, store, model, ids[4:])
    again = _statements(project, store, model, ids[4:])  # a re-annotation: deletes first, then inserts
    # the writer lock, the image locks, markers; per table of tags, ratings, scores, captions and
    # failures a DELETE and an INSERT; the item done (3); the change feed (1)
    assert small == large == again <= 17
    with project.database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 6 * 38
        for table in (Rating, Score, Caption):
            assert session.scalar(select(func.count()).select_from(table)) == 38
        assert session.scalar(select(func.count()).where(Rating.is_effective.is_(False))) == 0
        vocabulary = session.scalars(text("SELECT tag FROM tag_vocabulary")).all()
    assert set(vocabulary) == {f"tag {i} {k}" for i in range(3) for k in range(6)}


def test_on_postgresql_the_triggers_of_stored_rows_fire_once_per_statement(project: Project) -> None:
    """Migration 0014: the insert and delete triggers on tags, ratings and scores are statement
    triggers there (SQLite has row triggers only)."""
    if project.database.dialect != "postgresql":
        pytest.skip("SQLite has row triggers only")
    with project.database.read_session() as session:
        kinds = dict(
            session.execute(
                text(
                    "SELECT tgname, (tgtype & 1) = 1 FROM pg_trigger WHERE NOT tgisinternal "
                    "AND tgrelid IN ('tags'::regclass, 'ratings'::regclass, 'scores'::regclass)"
                )
            ).all()
        )
    per_row = sorted(name for name, row in kinds.items() if row)
    assert per_row == sorted(
        [
            "tag_vocabulary_update",
            "tags_decision_retag",
            "ratings_effective_update",
            "scores_effective_update",
        ]
    )
