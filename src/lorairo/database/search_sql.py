"""Compile a parsed search query into SQL over the project store.

Every user value becomes a bound parameter; wildcard patterns are escaped before `*`/`?` turn into
LIKE wildcards, and caption text is quoted as one FTS5 phrase, so no input can change the SQL.

Semantics the Python reference evaluation in the tests mirrors:
- a tag matches when accepted and not rejected (`rejected:` asks for rejected rows instead),
  compared case-insensitively;
- captions, scores and ratings use the *effective* rows: the manual row when the image has one
  (per score kind), otherwise every model row, so a manual correction hides the model's opinion.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    cast,
    column,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.orm import aliased

from lorairo.database.schema import (
    SOURCE_MANUAL,
    AnnotationFailure,
    Caption,
    Image,
    ImageSimilarity,
    Model,
    ModelAnnotation,
    Rating,
    Score,
    Tag,
)
from lorairo.errors import ValidationError
from lorairo.search.query_language import And, Node, Not, Operator, Or, Term

captions_fts = table("captions_fts", column("rowid"))
_FTS_COLUMN: ColumnElement[str] = literal_column("captions_fts")
LIKE_ESCAPE = "\\"
SORT_KEYS = ("added", "-added", "name", "-name", "score", "-score", "id", "-id", "random")


def like_pattern(pattern: str) -> str:
    """`*_hair` -> `%\\_hair`: escape LIKE's own wildcards, then map `*`/`?` onto them."""
    out = []
    for char in pattern:
        if char in "%_\\":
            out.append(LIKE_ESCAPE + char)
        elif char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        else:
            out.append(char)
    return "".join(out)


def fts_phrase(text: str) -> str:
    """One FTS5 phrase: the text double-quoted with inner quotes doubled, so operators are inert."""
    return '"' + text.replace('"', '""') + '"'


def _compare(expr: Any, op: Operator, value: Any) -> ColumnElement[bool]:
    if op == ">":
        return expr > value
    if op == ">=":
        return expr >= value
    if op == "<":
        return expr < value
    if op == "<=":
        return expr <= value
    return expr == value


def effective_tag() -> ColumnElement[bool]:
    """The rows that count as an image's tags everywhere (search, facets, export)."""
    return and_(Tag.is_accepted == true(), Tag.rejected_at.is_(None))


def manual_wins(model: Any, *, same_kind: bool = False) -> ColumnElement[bool]:
    """Rows that count for an image: its manual row when it has one, otherwise every model row."""
    manual = aliased(model)
    conditions = [manual.image_id == model.image_id, manual.source == SOURCE_MANUAL]
    if same_kind:
        conditions.append(manual.kind == model.kind)
    return or_(model.source == SOURCE_MANUAL, ~exists().where(*conditions))


def _tag_match(term: Term, aliases: Mapping[str, str]) -> ColumnElement[bool]:
    value = str(term.value)
    if term.wildcard:
        return Tag.tag.like(like_pattern(value), escape=LIKE_ESCAPE)
    names = {value}
    resolved = aliases.get(value)
    if resolved:
        names.add(resolved)
    nocase = Tag.tag.collate("NOCASE")
    if len(names) == 1:
        return nocase == value
    return nocase.in_(sorted(names))


def _caption_ids(phrase: str) -> Select[Any]:
    fts_rows = select(captions_fts.c.rowid).where(_FTS_COLUMN.match(fts_phrase(phrase)))
    return select(Caption.image_id).where(Caption.id.in_(fts_rows), manual_wins(Caption))


def _score_ids(term: Term) -> Select[Any]:
    conditions = [_compare(Score.score, term.op, term.value), manual_wins(Score, same_kind=True)]
    if term.qualifier:
        conditions.insert(0, Score.kind == term.qualifier)
    return select(Score.image_id).where(*conditions)


def _rating_ids(values: tuple[str, ...]) -> Select[Any]:
    return select(Rating.image_id).where(Rating.rating.in_(values), manual_wins(Rating))


def _edited() -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for model in (Tag, Caption, Score, Rating):
        parts.append(
            exists().where(
                model.image_id == Image.id,
                or_(model.source == SOURCE_MANUAL, model.is_edited_manually == true()),
            )
        )
    return or_(*parts)


def _flag(name: str) -> ColumnElement[bool]:
    if name == "all":
        return true()
    if name == "untagged":
        return ~exists().where(Tag.image_id == Image.id, effective_tag())
    if name == "near-duplicate":
        return or_(
            Image.id.in_(select(ImageSimilarity.image_id)),
            Image.id.in_(select(ImageSimilarity.similar_to_id)),
        )
    if name == "failed":
        return Image.id.in_(select(AnnotationFailure.image_id))
    if name == "edited":
        return _edited()
    if name == "reviewed":
        return Image.reviewed_at.is_not(None)
    raise ValidationError(f"unknown keyword {name!r}")


def _models(names: tuple[str, ...]) -> Select[Any]:
    return (
        select(ModelAnnotation.image_id)
        .join(Model, Model.id == ModelAnnotation.model_id)
        .where(Model.name.in_(names))
    )


def _term(term: Term, aliases: Mapping[str, str]) -> ColumnElement[bool]:
    field = term.field
    if field == "flag":
        return _flag(str(term.qualifier))
    if field == "tag":
        return Image.id.in_(select(Tag.image_id).where(_tag_match(term, aliases), effective_tag()))
    if field == "rejected":
        return Image.id.in_(
            select(Tag.image_id).where(_tag_match(term, aliases), Tag.rejected_at.is_not(None))
        )
    if field == "caption":
        return Image.id.in_(_caption_ids(str(term.value)))
    if field == "score":
        return Image.id.in_(_score_ids(term))
    if field == "rating":
        assert isinstance(term.value, tuple)
        return Image.id.in_(_rating_ids(term.value))
    if field in {"width", "height", "id"}:
        return _compare(getattr(Image, field), term.op, term.value)
    if field == "aspect":
        return _compare(cast(Image.width, Float) / Image.height, term.op, term.value)
    if field == "added":
        assert isinstance(term.value, datetime)
        return _compare(Image.created_at, term.op, term.value)
    if field == "format":
        assert isinstance(term.value, tuple)
        return func.upper(Image.format).in_(term.value)
    if field == "name":
        value = str(term.value)
        if term.wildcard:
            return Image.name.like(like_pattern(value), escape=LIKE_ESCAPE)
        return Image.name.collate("NOCASE") == value
    if field in {"model", "missing"}:
        assert isinstance(term.value, tuple)
        has = Image.id.in_(_models(term.value))
        return has if field == "model" else not_(has)
    if field == "failed":
        assert isinstance(term.value, tuple)
        return Image.id.in_(
            select(AnnotationFailure.image_id).where(AnnotationFailure.model_name.in_(term.value))
        )
    raise ValidationError(f"at column {term.position}: unknown field {field!r}")


def compile_condition(node: Node, aliases: Mapping[str, str] | None = None) -> ColumnElement[bool]:
    """A WHERE condition on `images` that is true exactly for the images the query matches."""
    aliases = aliases or {}
    if isinstance(node, Term):
        return _term(node, aliases)
    if isinstance(node, Not):
        return not_(compile_condition(node.child, aliases))
    parts = [compile_condition(child, aliases) for child in node.children]
    if isinstance(node, And):
        return and_(true(), *parts)
    assert isinstance(node, Or)
    return or_(false(), *parts)


def effective_score_expr(kind: str | None = None) -> Any:
    """The image's best effective score (manual wins per kind), for sorting and summaries."""
    conditions = [Score.image_id == Image.id, manual_wins(Score, same_kind=True)]
    if kind:
        conditions.append(Score.kind == kind)
    return select(func.max(Score.score)).where(*conditions).correlate(Image).scalar_subquery()


def _shuffle_key(seed: int) -> Any:
    """A seeded hash of the id: stable across pages for one seed, a different order per seed.

    Multiply, XOR with the hashed seed (SQLite has no XOR: a ^ b = (a | b) - (a & b)), multiply
    again; without the XOR a seed would only rotate the order.
    """
    mask = 4294967296
    hashed_seed = (seed * 2246822519 + 374761393) % mask
    mixed = (Image.id * 2654435761) % mask
    xored = mixed.op("|")(hashed_seed) - mixed.op("&")(hashed_seed)
    return (xored * 668265263) % mask


def order_by(sort: str, seed: int) -> list[Any]:
    """ORDER BY terms for a sort key; every order ends on the id so pages never overlap."""
    if sort not in SORT_KEYS:
        raise ValidationError(f"unknown sort key {sort!r} (use {', '.join(SORT_KEYS)})")
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "random":
        return [_shuffle_key(seed), Image.id]
    if key == "id":
        return [Image.id.desc() if descending else Image.id]
    expr: Any = {"added": Image.created_at, "name": Image.name}.get(key)
    if key == "score":
        expr = func.coalesce(effective_score_expr(), -1e308)
    assert expr is not None
    if descending:
        return [expr.desc(), Image.id.desc()]
    return [expr, Image.id]


def select_ids(
    node: Node,
    *,
    aliases: Mapping[str, str] | None = None,
    sort: str = "added",
    seed: int = 0,
) -> Select[Any]:
    """Matching image ids in sort order; the caller adds LIMIT/OFFSET or streams it."""
    return select(Image.id).where(compile_condition(node, aliases)).order_by(*order_by(sort, seed))


def count_matches(node: Node, aliases: Mapping[str, str] | None = None) -> Select[Any]:
    return select(func.count()).select_from(Image).where(compile_condition(node, aliases))
