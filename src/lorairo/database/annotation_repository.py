"""Storing model output: tags with confidences, ratings, scores, captions, markers and failures.

Each (image, model) is written whole: the model's previous rows for that image are deleted and the
new ones inserted in the same transaction as its `model_annotations` marker, so a run killed at any
point resumes without duplicates. Everything the selection reads is paged by image id, so a
100k-image project never sits in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, cast

from sqlalchemy import Select, Table, and_, case, delete, exists, func, select, true, update
from sqlalchemy.orm import Session

from genai_tag_db_tools.cleaning import clean_tag
from image_annotator_lib.core.types import AnnotationResult, TagPrediction
from lorairo.database.change_feed import bump as bump_changes
from lorairo.database.dialect import insert_rows
from lorairo.database.embedding_repository import save_embeddings
from lorairo.database.failures import AnnotationFailureRow
from lorairo.database.schema import (
    SOURCE_MODEL,
    AnnotationFailure,
    Caption,
    Image,
    Model,
    ModelAnnotation,
    ProcessedImage,
    Rating,
    Score,
    Tag,
    utcnow,
)
from lorairo.utils.chunks import chunked

SelectionMode = Literal["missing", "all", "ids"]
_ID_CHUNK = 500
# A tagger's vocabulary is fixed (~10k names), so each name is cleaned once per process, not per image.
_clean_model_tag = lru_cache(maxsize=1 << 16)(clean_tag)
_TAG_TABLE = cast(Table, Tag.__table__)
_MARKER_TABLE = cast(Table, ModelAnnotation.__table__)


@dataclass(frozen=True)
class ImageToAnnotate:
    """`path` is the file to read: the largest processed copy if any, else the stored original.
    Relative paths are relative to the project root."""

    id: int
    path: str
    phash: int


@dataclass
class SaveCounts:
    annotated: int = 0
    tags: int = 0
    ratings: int = 0
    scores: int = 0
    captions: int = 0
    embeddings: int = 0
    failures: int = 0
    policy_violations: int = 0


@dataclass
class RethresholdCounts:
    model_name: str
    changed: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    stored: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _tag_rows(
    image_id: int,
    model_id: int,
    tags: Sequence[TagPrediction],
    preferred: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[dict[str, object]]:
    """The one place model tag text is turned into stored form: `tag` cleaned (or the tag DB's
    preferred form from `preferred`, raw name -> tag), `raw_tag` as given. Timestamps are given
    once per batch rather than left to a per-row Python default."""
    stamp = now or utcnow()
    rows: dict[str, dict[str, object]] = {}
    for prediction in tags:
        tag = (preferred or {}).get(prediction.name) or _clean_model_tag(prediction.name)
        if not tag or tag in rows:
            continue
        rows[tag] = {
            "image_id": image_id,
            "model_id": model_id,
            "source": SOURCE_MODEL,
            "tag": tag,
            "raw_tag": prediction.name,
            "category": prediction.category,
            "confidence": prediction.confidence,
            "is_accepted": prediction.accepted,
            "position": len(rows),
            "is_edited_manually": False,
            "created_at": stamp,
            "updated_at": stamp,
        }
    return list(rows.values())


def save_model_tags(
    session: Session,
    model_id: int,
    tags_by_image: Sequence[tuple[int, Sequence[TagPrediction]]],
    preferred: Mapping[str, str] | None = None,
) -> int:
    """Replace a model's tags on these images; the only function that writes model tags. Rows go
    go in as one INSERT (`insert_rows`), with no ORM bulk-persistence bookkeeping per row."""
    image_ids = [image_id for image_id, _ in tags_by_image]
    session.execute(
        delete(Tag).where(Tag.model_id == model_id, Tag.source == SOURCE_MODEL, Tag.image_id.in_(image_ids))
    )
    now = utcnow()
    rows = [
        row for image_id, tags in tags_by_image for row in _tag_rows(image_id, model_id, tags, preferred, now)
    ]
    insert_rows(session, _TAG_TABLE, rows)
    return len(rows)


class AnnotationRepository:
    """Stateless: every method works inside the caller's session and never commits
    (`services/annotation_store.py` opens the transactions)."""

    # -- models --------------------------------------------------------------------------------

    def ensure_model(self, session: Session, name: str, *, provider: str, kind: str) -> int:
        model_id = session.scalar(select(Model.id).where(Model.name == name))
        if model_id is None:
            model = Model(name=name, provider=provider, type=kind)
            session.add(model)
            session.flush()
            model_id = model.id
        return model_id

    def model_id(self, session: Session, name: str) -> int | None:
        return session.scalar(select(Model.id).where(Model.name == name))

    # -- selection -----------------------------------------------------------------------------

    def _selection(self, model_id: int, mode: SelectionMode) -> Select[int, Any, int]:
        largest = (
            select(ProcessedImage.path)
            .where(ProcessedImage.image_id == Image.id)
            .order_by(ProcessedImage.resolution.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = select(Image.id, func.coalesce(largest, Image.stored_path), Image.phash)
        if mode == "missing":
            done = exists().where(ModelAnnotation.image_id == Image.id, ModelAnnotation.model_id == model_id)
            query = query.where(~done)
        return query

    def count_selection(
        self, session: Session, model_id: int, mode: SelectionMode, ids: Sequence[int] = ()
    ) -> int:
        if mode == "ids":
            unique = sorted(set(ids))
            return sum(
                session.scalar(select(func.count()).select_from(Image).where(Image.id.in_(chunk))) or 0
                for chunk in chunked(unique, _ID_CHUNK)
            )
        query = self._selection(model_id, mode).subquery()
        return session.scalar(select(func.count()).select_from(query)) or 0

    def selection_of(self, session: Session, model_id: int, ids: Sequence[int]) -> list[ImageToAnnotate]:
        """The images among `ids` (one page of an explicit selection), in id order."""
        rows = session.execute(
            self._selection(model_id, "all").where(Image.id.in_(list(ids))).order_by(Image.id)
        ).all()
        return [ImageToAnnotate(*row) for row in rows]

    def selection_after(
        self, session: Session, model_id: int, mode: SelectionMode, last_id: int, page_size: int
    ) -> list[ImageToAnnotate]:
        """The next page after image id `last_id`. The caller reads each page in its own short
        transaction, so `missing` is re-evaluated per page: images marked meanwhile are skipped
        and nothing is read twice."""
        rows = session.execute(
            self._selection(model_id, mode).where(Image.id > last_id).order_by(Image.id).limit(page_size)
        ).all()
        return [ImageToAnnotate(*row) for row in rows]

    # -- saving --------------------------------------------------------------------------------

    def save_results(
        self,
        session: Session,
        model_id: int,
        model_name: str,
        provider: str,
        results: Sequence[tuple[int, AnnotationResult]],
        preferred: Mapping[str, str] | None = None,
        and_then: Callable[[Session], None] | None = None,
    ) -> SaveCounts:
        """A batch, inside the caller's one write transaction: successes replace earlier rows and
        get their marker; failures get a failure row and no marker, so the next `missing` run
        retries them. `and_then` runs last in the same transaction (marking the batch's work item
        done). Callers open it as `write_session(shared=True)`: workers store their batches side
        by side on PostgreSQL, while edits (which take the writer lock whole) never interleave
        with a batch."""
        counts = SaveCounts()
        now = utcnow()
        # Image row locks keep two batches touching one image (two models' workers) in turn.
        statement = (
            select(Image.id)
            .where(Image.id.in_(sorted({image_id for image_id, _ in results})))
            .order_by(Image.id)
        )
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update()
        # an image removed from the project while its batch ran has nothing left to annotate
        present = set(session.scalars(statement))
        done = [(i, result) for i, result in results if result.failure is None and i in present]
        failed = [(i, result) for i, result in results if result.failure is not None and i in present]
        done_ids = [image_id for image_id, _ in done]
        if done:
            # The markers first: their upsert locks each (model, image) row, so two workers
            # finishing the same batch write one after the other and the second replaces
            # the first's rows instead of adding to them.
            insert_rows(
                session,
                _MARKER_TABLE,
                [{"image_id": i, "model_id": model_id, "annotated_at": now} for i in done_ids],
                lambda marker: marker.on_conflict_do_update(
                    index_elements=["model_id", "image_id"], set_={"annotated_at": now}
                ),
            )
            counts.tags = save_model_tags(session, model_id, [(i, r.tags) for i, r in done], preferred)
            for table in (Rating, Score, Caption):
                session.execute(
                    delete(table).where(
                        table.model_id == model_id,
                        table.source == SOURCE_MODEL,
                        table.image_id.in_(done_ids),
                    )
                )
            ratings = [
                {
                    "image_id": i,
                    "model_id": model_id,
                    "rating": r.rating,
                    "confidence": r.rating_confidence,
                }
                for i, r in done
                if r.rating
            ]
            scores = [
                {
                    "image_id": i,
                    "model_id": model_id,
                    "kind": r.score_kind,
                    "score": r.score,
                    "scale_max": r.score_scale_max,
                }
                for i, r in done
                if r.score is not None
            ]
            captions = [
                {"image_id": i, "model_id": model_id, "caption": r.caption} for i, r in done if r.caption
            ]
            for table, rows in ((Rating, ratings), (Score, scores), (Caption, captions)):
                insert_rows(session, cast(Table, table.__table__), rows)
            counts.ratings, counts.scores, counts.captions = len(ratings), len(scores), len(captions)
            counts.embeddings = save_embeddings(
                session, model_id, [(i, r.embedding) for i, r in done if r.embedding is not None]
            )
            session.execute(
                delete(AnnotationFailure).where(
                    AnnotationFailure.model_name == model_name, AnnotationFailure.image_id.in_(done_ids)
                )
            )
            counts.annotated = len(done)
        if failed:
            insert_rows(
                session,
                cast(Table, AnnotationFailure.__table__),
                [
                    {
                        "image_id": i,
                        "model_name": model_name,
                        "provider": provider,
                        "failure_reason": r.failure.kind,
                        "error_message": r.failure.message,
                        "failed_at": now,
                        "is_policy_violation": r.failure.is_policy_violation,
                    }
                    for i, r in failed
                    if r.failure is not None
                ],
            )
            counts.failures = len(failed)
            counts.policy_violations = sum(
                1 for _, r in failed if r.failure is not None and r.failure.is_policy_violation
            )
        if and_then is not None:
            and_then(session)
        if results:  # last: its one row is shared by every writer, so it is held briefly
            bump_changes(session)
        return counts

    # -- thresholds ----------------------------------------------------------------------------

    def rethreshold(
        self, session: Session, model_name: str, *, general: float | None, character: float | None
    ) -> RethresholdCounts:
        """Re-apply thresholds to stored confidences in SQL; manually edited tags are left alone.
        `general` covers every non-character category, as the tagger itself does."""
        counts = RethresholdCounts(model_name)
        model_id = self.model_id(session, model_name)
        if model_id is None:
            return counts
        base = and_(
            Tag.model_id == model_id,
            Tag.source == SOURCE_MODEL,
            Tag.confidence.is_not(None),
            Tag.is_edited_manually.is_(False),
        )
        now = utcnow()
        for label, threshold, in_category in (
            ("general", general, Tag.category != "character"),
            ("character", character, Tag.category == "character"),
        ):
            if threshold is None:
                continue
            passes = Tag.confidence >= threshold
            result = session.execute(
                update(Tag)
                .where(base, in_category, Tag.is_accepted != case((passes, True), else_=False))
                .values(is_accepted=case((passes, True), else_=False), updated_at=now)
                .execution_options(synchronize_session=False)
            )
            counts.changed[label] = result.rowcount  # type: ignore[attr-defined]
        counts.stored = session.scalar(select(func.count()).select_from(Tag).where(base)) or 0
        counts.accepted = (
            session.scalar(select(func.count()).select_from(Tag).where(base, Tag.is_accepted.is_(True))) or 0
        )
        if any(counts.changed.values()):
            bump_changes(session)
        return counts

    # -- failures ------------------------------------------------------------------------------

    def check_policy_violations(
        self, session: Session, image_ids: Sequence[int], model_name: str
    ) -> set[int]:
        """The images among `image_ids` this model has refused for content policy before."""
        found: set[int] = set()
        unique = sorted(set(image_ids))
        for chunk in chunked(unique, _ID_CHUNK):
            found.update(
                session.scalars(
                    select(AnnotationFailure.image_id)
                    .where(
                        AnnotationFailure.model_name == model_name,
                        AnnotationFailure.is_policy_violation.is_(True),
                        AnnotationFailure.image_id.in_(chunk),
                    )
                    .distinct()
                )
            )
        return found

    def list_failures(
        self, session: Session, model_name: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> tuple[int, list[AnnotationFailureRow]]:
        """Total matching and one page, newest first."""
        condition = AnnotationFailure.model_name == model_name if model_name else true()
        total = session.scalar(select(func.count()).select_from(AnnotationFailure).where(condition)) or 0
        rows = session.execute(
            select(
                AnnotationFailure.id,
                AnnotationFailure.image_id,
                Image.name,
                AnnotationFailure.model_name,
                AnnotationFailure.provider,
                AnnotationFailure.failure_reason,
                AnnotationFailure.error_message,
                AnnotationFailure.failed_at,
                AnnotationFailure.is_policy_violation,
            )
            .join(Image, Image.id == AnnotationFailure.image_id)
            .where(condition)
            .order_by(AnnotationFailure.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        return total, [
            AnnotationFailureRow(
                id=row[0],
                image_id=row[1],
                image_name=row[2],
                model_name=row[3],
                provider=row[4],
                reason=row[5],
                message=row[6],
                failed_at=row[7],
                is_policy_violation=row[8],
            )
            for row in rows
        ]
