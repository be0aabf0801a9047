"""What counts for an image, decided in one place: its tags and their order, its score of a kind,
its rating and its caption. Sort, filter, grid, inspector, export and edits all read these.

- A tag row counts when its model accepted it and the person neither rejected nor removed the
  tag on that image (`tag_decisions`, mirrored onto the row by the 0006 triggers).
- An image's tags are in the person's order first (`tag_decisions.position`), then as stored.
- The score of a kind, and the rating, is one row: the manual one if any, else the newest model
  row (`is_effective`, kept exact by the 0006 triggers). `score:` and the `score` sort use the
  default kind (`[search] default_score_kind`), `score[kind]:` another.
- The caption is the manual one if any, else the newest model caption.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true
from sqlalchemy.orm import aliased

from lorairo.database.choices import DEFAULT_SCORE_KIND as DEFAULT_SCORE_KIND  # light, for `Project`
from lorairo.database.dialect import nocase
from lorairo.database.schema import SOURCE_MANUAL, Caption, Image, Rating, Score, Tag, TagDecision


def effective_tag() -> ColumnElement[bool]:
    """The tag rows that count as an image's tags."""
    return and_(Tag.is_accepted == true(), Tag.rejected_at.is_(None), Tag.removed_at.is_(None))


def rejected_tag() -> ColumnElement[bool]:
    return Tag.rejected_at.is_not(None)


def tags_in_order(*columns: Any) -> Select[Any]:
    """`columns` of tag rows joined to their decision, in each image's display and export order:
    the manual position first (tags never ordered by hand after), then stored position, then id."""
    return (
        select(*columns)
        .select_from(Tag)
        .outerjoin(
            TagDecision,
            and_(TagDecision.image_id == Tag.image_id, nocase(TagDecision.tag) == nocase(Tag.tag)),
        )
        .order_by(
            Tag.image_id,
            TagDecision.position.is_(None),
            TagDecision.position,
            Tag.position,
            Tag.id,
        )
    )


def effective_scores() -> ColumnElement[bool]:
    """True on each image's one effective score per kind."""
    return Score.is_effective == true()


def effective_score_row(kind: str) -> list[ColumnElement[bool]]:
    """Conditions on `scores` picking an image's one effective score of `kind`."""
    return [effective_scores(), Score.kind == kind]


def effective_score(kind: str) -> Any:
    """The image's effective score of `kind`, correlated to `images` (for sorting)."""
    return (
        select(Score.score)
        .where(Score.image_id == Image.id, *effective_score_row(kind))
        .limit(1)
        .correlate(Image)
        .scalar_subquery()
    )


def effective_rating_row() -> ColumnElement[bool]:
    return Rating.is_effective == true()


def effective_caption_row() -> ColumnElement[bool]:
    """True on an image's one effective caption row: no caption of the image ranks above it
    (manual above model, then the newer above the older).

    Written as NOT EXISTS rather than `id = (the first caption in that order)`: PostgreSQL
    estimates the equality with a subquery at 0.5% of the rows, and on that estimate walked a
    page of `caption:"..."` against a materialised list of every match (4M comparisons, 0.7 s);
    an anti-join it estimates, and probes per image.
    """
    other = aliased(Caption)
    other_manual = other.source == SOURCE_MANUAL
    this_model = Caption.source != SOURCE_MANUAL
    ranks_above = or_(
        and_(other_manual, this_model), and_(other.id > Caption.id, or_(other_manual, this_model))
    )
    return ~exists().where(other.image_id == Caption.image_id, ranks_above).correlate(Caption)
