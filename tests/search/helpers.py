"""Test helpers for search and bulk edits: a project with real image files, a full-state snapshot,
and the plain facts (`ImageFacts`) the query fields' Python `match` reads, loaded with the
effective-row rules restated here, to compare the SQL against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from lorairo.database.query import Node
from lorairo.database.query_fields import ImageFacts, ascii_fold, matches
from lorairo.database.schema import (
    AnnotationFailure,
    Caption,
    Image,
    ImageCrop,
    ImageQuality,
    ImageSimilarity,
    Model,
    ModelAnnotation,
    Rating,
    Score,
    Tag,
    TagDecision,
)
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import Project, ProjectService
from tests.factories import add_image_row, make_image_file

SIZES = [(64, 48), (48, 64), (64, 64), (96, 32), (40, 80), (72, 48), (56, 56), (32, 96)]
ANNOTATION_TABLES = (
    Tag,
    TagDecision,
    Caption,
    Score,
    Rating,
    ModelAnnotation,
    AnnotationFailure,
    ImageSimilarity,
    ImageQuality,
)


def new_project(tmp_path: Path, count: int = len(SIZES)) -> tuple[Project, list[int]]:
    """A real project with `count` real PNG/JPEG files registered as image rows."""
    project = ProjectService(ConfigurationService()).create("search-test")
    ids = []
    for index in range(count):
        width, height = SIZES[index % len(SIZES)]
        suffix = "png" if index % 3 else "jpg"
        path = make_image_file(
            tmp_path / "src" / f"img{index}_{'cosplay' if index % 2 else 'plain'}.{suffix}",
            (width, height),
            seed=index,
        )
        ids.append(add_image_row(project.database, path))
    return project, ids


def clear_annotations(project: Project) -> None:
    with project.database.write_session() as session:
        for model in ANNOTATION_TABLES:
            session.execute(delete(model))
        session.execute(delete(Model))
        session.execute(Image.__table__.update().values(reviewed_at=None))


def snapshot(project: Project) -> dict[str, list[dict[str, Any]]]:
    """Every column of every annotation row plus the images' review state, for exact comparisons."""
    state: dict[str, list[dict[str, Any]]] = {}
    with project.database.read_session() as session:
        for model in (Tag, TagDecision, Caption, Score, Rating):
            table = model.__table__
            state[table.name] = [
                dict(row) for row in session.execute(select(table).order_by(table.c.id)).mappings()
            ]
        state["images"] = [
            {"id": i, "reviewed_at": r}
            for i, r in session.execute(select(Image.id, Image.reviewed_at).order_by(Image.id))
        ]
    return state


# -- reference evaluation -----------------------------------------------------------------------


@dataclass
class ImageData:
    id: int
    name: str
    width: int
    height: int
    format: str
    created_at: datetime
    reviewed_at: datetime | None
    tags: list[Tag] = field(default_factory=list)
    captions: list[Caption] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    failures: set[str] = field(default_factory=set)
    similar: bool = False
    cropped: bool = False
    quality: dict[str, Any] = field(default_factory=dict)
    # (tag folded as NOCASE folds) -> (rejected, removed, manual position)
    decisions: dict[str, tuple[bool, bool, int | None]] = field(default_factory=dict)


def load(project: Project) -> list[ImageData]:
    with project.database.read_session() as session:
        images = {
            image.id: ImageData(
                image.id,
                image.name,
                image.width,
                image.height,
                image.format,
                image.created_at,
                image.reviewed_at,
            )
            for image in session.scalars(select(Image))
        }
        for tag in session.scalars(select(Tag)):
            images[tag.image_id].tags.append(tag)
        for caption in session.scalars(select(Caption)):
            images[caption.image_id].captions.append(caption)
        for score in session.scalars(select(Score)):
            images[score.image_id].scores.append(score)
        for rating in session.scalars(select(Rating)):
            images[rating.image_id].ratings.append(rating)
        for image_id, name in session.execute(
            select(ModelAnnotation.image_id, Model.name).join(Model, Model.id == ModelAnnotation.model_id)
        ):
            images[image_id].models.add(name)
        for failure in session.scalars(select(AnnotationFailure)):
            images[failure.image_id].failures.add(failure.model_name)
        for decision in session.scalars(select(TagDecision)):
            images[decision.image_id].decisions[ascii_fold(decision.tag)] = (
                decision.rejected_at is not None,
                decision.removed_at is not None,
                decision.position,
            )
        for image_id in session.scalars(select(ImageCrop.image_id)):
            images[image_id].cropped = True
        for row in session.scalars(select(ImageQuality)):
            images[row.image_id].quality = {
                name: getattr(row, name)
                for name in (
                    "blur",
                    "sharpness",
                    "brightness",
                    "contrast",
                    "border",
                    "letterbox",
                    "jpeg_quality",
                )
            }
        for link in session.scalars(select(ImageSimilarity)):
            images[link.image_id].similar = images[link.similar_to_id].similar = True
        session.expunge_all()
    return list(images.values())


def _counts(image: ImageData, tag: Tag) -> bool:
    rejected, removed, _position = image.decisions.get(ascii_fold(tag.tag), (False, False, None))
    return tag.is_accepted and not rejected and not removed


def _rejected(image: ImageData, tag: Tag) -> bool:
    return image.decisions.get(ascii_fold(tag.tag), (False, False, None))[0]


def _effective(rows: list[Any]) -> Any | None:
    """The one row that counts: the manual one if any, else the newest."""
    return max(rows, key=lambda row: (row.source == "manual", row.id), default=None)


def effective_score(image: ImageData, kind: str) -> float | None:
    row = _effective([s for s in image.scores if s.kind == kind])
    return None if row is None else row.score


def displayed(
    image: ImageData, kind: str, limit: int = 12
) -> tuple[list[str], str | None, float | None, str | None]:
    """What a summary shows: tags (manual order first, then stored position), caption, score of
    the default `kind`, rating."""

    def order(tag: Tag) -> tuple[bool, int, int, int]:
        position = image.decisions.get(ascii_fold(tag.tag), (False, False, None))[2]
        return (position is None, position or 0, tag.position, tag.id)

    tags: list[str] = []
    for tag in sorted(image.tags, key=order):
        if _counts(image, tag) and tag.tag not in tags and len(tags) < limit:
            tags.append(tag.tag)
    caption = _effective(image.captions)
    rating = _effective(image.ratings)
    return (
        tags,
        None if caption is None else caption.caption,
        effective_score(image, kind),
        None if rating is None else rating.rating,
    )


def _is_edited(image: ImageData) -> bool:
    rows = [*image.tags, *image.captions, *image.scores, *image.ratings]
    decided = any(
        rejected or removed or position is not None
        for rejected, removed, position in image.decisions.values()
    )
    return decided or any(row.source == "manual" or row.is_edited_manually for row in rows)


def facts(image: ImageData) -> ImageFacts:
    """The image as plain facts, chosen by the rules above (not by the store's SQL)."""
    caption = _effective(image.captions)
    rating = _effective(image.ratings)
    kinds = {score.kind for score in image.scores}
    return ImageFacts(
        id=image.id,
        name=image.name,
        width=image.width,
        height=image.height,
        format=image.format,
        created_at=image.created_at,
        reviewed_at=image.reviewed_at,
        tags=tuple(t.tag for t in image.tags if _counts(image, t)),
        rejected_tags=tuple(t.tag for t in image.tags if _rejected(image, t)),
        caption=None if caption is None else caption.caption,
        scores={kind: score for kind in kinds if (score := effective_score(image, kind)) is not None},
        rating=None if rating is None else rating.rating,
        models=frozenset(image.models),
        failures=frozenset(image.failures),
        near_duplicate=image.similar,
        edited=_is_edited(image),
        cropped=image.cropped,
        quality=image.quality,
    )


def reference_ids(node: Node, images: list[ImageData]) -> list[int]:
    """The ids the fields' Python `match` selects: what the SQL must return."""
    return sorted(image.id for image in images if matches(node, facts(image)))
