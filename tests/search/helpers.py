"""Test helpers for search and bulk edits: a project with real image files, a full-state snapshot,
and a straightforward Python evaluation of the query language to compare SQL against."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from lorairo.database.effective import DEFAULT_SCORE_KIND
from lorairo.database.query import And, Node, Not, Or, Term
from lorairo.database.schema import (
    AnnotationFailure,
    Caption,
    Image,
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
            images[decision.image_id].decisions[_ascii_fold(decision.tag)] = (
                decision.rejected_at is not None,
                decision.removed_at is not None,
                decision.position,
            )
        for link in session.scalars(select(ImageSimilarity)):
            images[link.image_id].similar = images[link.similar_to_id].similar = True
        session.expunge_all()
    return list(images.values())


def _ascii_fold(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _like(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.ASCII | re.DOTALL)


def _tag_matches(term: Term, tag: str) -> bool:
    value = str(term.value)
    if term.wildcard:
        return _like(value).fullmatch(tag) is not None
    return _ascii_fold(tag) == _ascii_fold(value)


def _tokens(text: str) -> list[str]:
    return [t.casefold() for t in re.findall(r"\w+", text)]


def _phrase_in(phrase: str, text: str) -> bool:
    wanted, words = _tokens(phrase), _tokens(text)
    return bool(wanted) and any(words[i : i + len(wanted)] == wanted for i in range(len(words)))


def _effective(rows: list[Any]) -> Any | None:
    """The one row that counts: the manual one if any, else the newest."""
    return max(rows, key=lambda row: (row.source == "manual", row.id), default=None)


def _counts(image: ImageData, tag: Tag) -> bool:
    rejected, removed, _position = image.decisions.get(_ascii_fold(tag.tag), (False, False, None))
    return tag.is_accepted and not rejected and not removed


def _rejected(image: ImageData, tag: Tag) -> bool:
    return image.decisions.get(_ascii_fold(tag.tag), (False, False, None))[0]


def effective_score(image: ImageData, kind: str) -> float | None:
    row = _effective([s for s in image.scores if s.kind == kind])
    return None if row is None else row.score


def displayed(
    image: ImageData, kind: str, limit: int = 12
) -> tuple[list[str], str | None, float | None, str | None]:
    """What a summary shows: tags (manual order first, then stored position), caption, score of
    the default `kind`, rating."""

    def order(tag: Tag) -> tuple[bool, int, int, int]:
        position = image.decisions.get(_ascii_fold(tag.tag), (False, False, None))[2]
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


def _compare(left: Any, op: str, right: Any) -> bool:
    return {
        "=": left == right,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[op]


def _is_edited(image: ImageData) -> bool:
    rows = [*image.tags, *image.captions, *image.scores, *image.ratings]
    decided = any(
        rejected or removed or position is not None
        for rejected, removed, position in image.decisions.values()
    )
    return decided or any(row.source == "manual" or row.is_edited_manually for row in rows)


def _term(term: Term, image: ImageData) -> bool:
    field_name = term.field
    if field_name == "flag":
        flags = {
            "all": True,
            "untagged": not any(_counts(image, t) for t in image.tags),
            "near-duplicate": image.similar,
            "failed": bool(image.failures),
            "edited": _is_edited(image),
            "reviewed": image.reviewed_at is not None,
        }
        return flags[str(term.qualifier)]
    if field_name == "tag":
        return any(_counts(image, t) and _tag_matches(term, t.tag) for t in image.tags)
    if field_name == "rejected":
        return any(_rejected(image, t) and _tag_matches(term, t.tag) for t in image.tags)
    if field_name == "caption":
        caption = _effective(image.captions)
        return caption is not None and _phrase_in(str(term.value), caption.caption)
    if field_name == "score":
        score = effective_score(image, term.qualifier or DEFAULT_SCORE_KIND)
        return score is not None and _compare(score, term.op, term.value)
    if field_name == "rating":
        rating = _effective(image.ratings)
        return rating is not None and rating.rating in term.value
    if field_name in {"width", "height", "id"}:
        return _compare(getattr(image, field_name), term.op, term.value)
    if field_name == "aspect":
        return _compare(image.width / image.height, term.op, term.value)
    if field_name == "added":
        return _compare(image.created_at, term.op, term.value)
    if field_name == "format":
        return image.format.upper() in term.value
    if field_name == "name":
        if term.wildcard:
            return _like(str(term.value)).fullmatch(image.name) is not None
        return _ascii_fold(image.name) == _ascii_fold(str(term.value))
    if field_name == "model":
        return bool(image.models & set(term.value))
    if field_name == "missing":
        return not image.models & set(term.value)
    if field_name == "failed":
        return bool(image.failures & set(term.value))
    raise AssertionError(field_name)


def evaluate(node: Node, image: ImageData) -> bool:
    if isinstance(node, Term):
        return _term(node, image)
    if isinstance(node, Not):
        return not evaluate(node.child, image)
    if isinstance(node, And):
        return all(evaluate(child, image) for child in node.children)
    assert isinstance(node, Or)
    return any(evaluate(child, image) for child in node.children)


def reference_ids(node: Node, images: list[ImageData]) -> list[int]:
    return sorted(image.id for image in images if evaluate(node, image))
