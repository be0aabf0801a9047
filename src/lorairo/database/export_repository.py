"""Read-only queries behind export: image rows with all their annotations, a batch of ids at a time.

One query per table per batch (images, tags, captions, scores, ratings, processed copies), never
one per image, so exporting 100k images costs a few hundred queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from lorairo.database.effective import (
    effective_caption_row,
    effective_rating_row,
    effective_scores,
    effective_tag,
    tags_in_order,
)
from lorairo.database.schema import (
    SOURCE_MANUAL,
    Caption,
    ExportRejection,
    Image,
    Model,
    ProcessedImage,
    Rating,
    Score,
    Tag,
    TagDecision,
)

ID_PAGE = 1000


@dataclass(frozen=True)
class TagRow:
    tag: str
    category: str
    confidence: float | None
    source: str
    model: str | None
    accepted: bool
    rejected: bool
    manual: bool
    position: int
    manual_position: int | None = None


@dataclass(frozen=True)
class CaptionRow:
    caption: str
    model: str | None
    manual: bool
    updated_at: datetime
    row_id: int
    effective: bool = False


@dataclass(frozen=True)
class ScoreRow:
    score: float
    scale_max: float
    kind: str
    manual: bool
    created_at: datetime
    row_id: int


@dataclass(frozen=True)
class RatingRow:
    rating: str
    manual: bool
    created_at: datetime
    row_id: int


@dataclass(frozen=True)
class ProcessedRow:
    path: str
    width: int
    height: int


@dataclass
class ImageRecord:
    """One image and everything export may need from the database about it."""

    id: int
    name: str
    stored_path: str
    width: int
    height: int
    format: str
    sha256: str
    tags: list[TagRow] = field(default_factory=list)
    captions: list[CaptionRow] = field(default_factory=list)
    scores: list[ScoreRow] = field(default_factory=list)  # the effective one of each kind
    ratings: list[RatingRow] = field(default_factory=list)  # the effective one
    processed: ProcessedRow | None = None
    export_rejected: bool = False  # a person left it out of exports (`export_rejections`)


def image_ids_after(session: Session, last: int, page: int = ID_PAGE) -> list[int]:
    """The next page of image ids after `last`, in id order (keyset paging: the caller reads a
    project of any size one short read transaction per page)."""
    return list(session.scalars(select(Image.id).where(Image.id > last).order_by(Image.id).limit(page)))


def model_names(session: Session) -> set[str]:
    return set(session.scalars(select(Model.name)))


def tag_frequencies(session: Session) -> dict[str, int]:
    """Images per accepted, non-rejected tag across the project (keys as stored, case preserved)."""
    query = select(Tag.tag, func.count(distinct(Tag.image_id))).where(effective_tag()).group_by(Tag.tag)
    return {tag: count for tag, count in session.execute(query)}


def load_records(session: Session, ids: Sequence[int], resolution: int | None) -> dict[int, ImageRecord]:
    """The records for one batch of ids (ids that no longer exist are simply absent)."""
    if not ids:
        return {}
    id_list = list(ids)
    records = {
        row.id: ImageRecord(
            id=row.id,
            name=row.name,
            stored_path=row.stored_path,
            width=row.width,
            height=row.height,
            format=row.format,
            sha256=row.sha256,
        )
        for row in session.execute(
            select(
                Image.id,
                Image.name,
                Image.stored_path,
                Image.width,
                Image.height,
                Image.format,
                Image.sha256,
            ).where(Image.id.in_(id_list))
        )
    }
    for image_id in session.scalars(
        select(ExportRejection.image_id).where(ExportRejection.image_id.in_(id_list))
    ):
        records[image_id].export_rejected = True
    tag_rows = session.execute(
        tags_in_order(
            Tag.image_id,
            Tag.tag,
            Tag.category,
            Tag.confidence,
            Tag.source,
            Model.name,
            Tag.is_accepted,
            Tag.rejected_at,
            Tag.is_edited_manually,
            Tag.position,
            Tag.removed_at,
            TagDecision.position,
        )
        .outerjoin(Model, Tag.model_id == Model.id)
        .where(Tag.image_id.in_(id_list))
    )
    for (
        image_id,
        tag,
        category,
        confidence,
        source,
        model,
        accepted,
        rejected_at,
        edited,
        position,
        removed_at,
        manual_position,
    ) in tag_rows:
        records[image_id].tags.append(
            TagRow(
                tag=tag,
                category=category,
                confidence=confidence,
                source=source,
                model=model,
                accepted=bool(accepted) and removed_at is None,
                rejected=rejected_at is not None,
                manual=source == SOURCE_MANUAL or bool(edited),
                position=position,
                manual_position=manual_position,
            )
        )
    caption_rows = session.execute(
        select(
            Caption.image_id,
            Caption.caption,
            Model.name,
            Caption.source,
            Caption.is_edited_manually,
            Caption.updated_at,
            Caption.id,
            effective_caption_row(),
        )
        .outerjoin(Model, Caption.model_id == Model.id)
        .where(Caption.image_id.in_(id_list))
    )
    for image_id, caption, model, source, edited, updated_at, row_id, effective in caption_rows:
        records[image_id].captions.append(
            CaptionRow(
                caption=caption,
                model=model,
                manual=source == SOURCE_MANUAL or bool(edited),
                updated_at=updated_at,
                row_id=row_id,
                effective=bool(effective),
            )
        )
    score_rows = session.execute(
        select(
            Score.image_id,
            Score.score,
            Score.scale_max,
            Score.kind,
            Score.source,
            Score.is_edited_manually,
            Score.created_at,
            Score.id,
        ).where(Score.image_id.in_(id_list), effective_scores())
    )
    for image_id, score, scale_max, kind, source, edited, created_at, row_id in score_rows:
        records[image_id].scores.append(
            ScoreRow(
                score=score,
                scale_max=scale_max,
                kind=kind,
                manual=source == SOURCE_MANUAL or bool(edited),
                created_at=created_at,
                row_id=row_id,
            )
        )
    rating_rows = session.execute(
        select(
            Rating.image_id,
            Rating.rating,
            Rating.source,
            Rating.is_edited_manually,
            Rating.created_at,
            Rating.id,
        ).where(Rating.image_id.in_(id_list), effective_rating_row())
    )
    for image_id, rating, source, edited, created_at, row_id in rating_rows:
        records[image_id].ratings.append(
            RatingRow(
                rating=rating,
                manual=source == SOURCE_MANUAL or bool(edited),
                created_at=created_at,
                row_id=row_id,
            )
        )
    if resolution is not None:
        processed_rows = session.execute(
            select(
                ProcessedImage.image_id,
                ProcessedImage.path,
                ProcessedImage.width,
                ProcessedImage.height,
            ).where(ProcessedImage.image_id.in_(id_list), ProcessedImage.resolution == resolution)
        )
        for image_id, path, width, height in processed_rows:
            records[image_id].processed = ProcessedRow(path=path, width=width, height=height)
    return records
