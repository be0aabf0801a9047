"""What the thumbnail grid needs beyond a search summary: the stored thumbnail and the badges.

One page of ids at a time, five small indexed queries, so the grid never loads the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lorairo.database.effective import effective_tag, rejected_tag
from lorairo.database.schema import AnnotationFailure, Image, ImageQuality, ImageSimilarity, Tag
from lorairo.utils.chunks import chunked

_CHUNK = 500


@dataclass(frozen=True)
class GridFlags:
    """`thumbnail_path` is relative to the project root; the flags drive the grid's badges, as do
    the quality measures (None where an image has none yet)."""

    thumbnail_path: str | None
    near_duplicate: bool
    failed: bool
    rejected_only: bool
    blur: float | None = None
    brightness: float | None = None
    letterbox: bool = False


def grid_flags(session: Session, ids: list[int]) -> dict[int, GridFlags]:
    """Thumbnail path and badge flags for a page of image ids (unknown ids are left out)."""
    result: dict[int, GridFlags] = {}
    for chunk in chunked(ids, _CHUNK):
        query = (
            select(
                Image.id,
                Image.thumbnail_path,
                ImageQuality.blur,
                ImageQuality.brightness,
                ImageQuality.letterbox,
            )
            .outerjoin(ImageQuality, ImageQuality.image_id == Image.id)
            .where(Image.id.in_(chunk))
        )
        thumbs = {row[0]: row[1:] for row in session.execute(query)}
        similar = set(
            session.scalars(
                select(ImageSimilarity.image_id).where(ImageSimilarity.image_id.in_(chunk)).distinct()
            )
        )
        failed = set(
            session.scalars(
                select(AnnotationFailure.image_id).where(AnnotationFailure.image_id.in_(chunk)).distinct()
            )
        )
        rejected = set(
            session.scalars(select(Tag.image_id).where(Tag.image_id.in_(chunk), rejected_tag()).distinct())
        )
        effective = set(
            session.scalars(select(Tag.image_id).where(Tag.image_id.in_(chunk), effective_tag()).distinct())
        )
        for image_id, (thumbnail, blur, brightness, letterbox) in thumbs.items():
            result[image_id] = GridFlags(
                thumbnail_path=thumbnail,
                blur=blur,
                brightness=brightness,
                letterbox=bool(letterbox),
                near_duplicate=image_id in similar,
                failed=image_id in failed,
                rejected_only=image_id in rejected and image_id not in effective,
            )
    return result
