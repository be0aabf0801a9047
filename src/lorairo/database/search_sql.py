"""Compile a parsed search query into SQL over the project store.

Every user value becomes a bound parameter; wildcard patterns are escaped before `*`/`?` turn into
LIKE wildcards, and caption text is quoted as one FTS5 phrase, so no input can change the SQL.

Semantics the Python reference evaluation in the tests mirrors:
- a tag matches when it counts (`effective_tag`: accepted, neither rejected nor removed;
  `rejected:` asks for rejected rows instead), compared case-insensitively;
- captions, scores and ratings use the one *effective* row per image (and score kind) that
  `lorairo.database.effective` defines; `score:` without `[kind]` means DEFAULT_SCORE_KIND.

Two shapes of the same condition serve different plans:
- `compile_condition` is a per-image test (correlated EXISTS probes) for walking `images` in an
  indexed order and stopping after one page;
- `id_stream` is a set expression over image-id streams (INTERSECT / UNION / EXCEPT), each member
  read in image-id order from an index, so SQLite merges them without building temp b-trees.
  Counts, sparse result pages and facets use it; its cost is the size of the streams, not of
  the project.
Wildcard tags are expanded beforehand (`vocabulary_matches`, over `tag_vocabulary`) into the
exact tags they match, so both shapes seek the tag index instead of running LIKE over every tag row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Float,
    Select,
    and_,
    cast,
    column,
    except_,
    exists,
    false,
    func,
    intersect,
    literal_column,
    not_,
    or_,
    select,
    table,
    true,
    union,
)

from lorairo.database.effective import (
    DEFAULT_SCORE_KIND,
    effective_caption_row,
    effective_rating_row,
    effective_score,
    effective_score_row,
    effective_tag,
    rejected_tag,
)
from lorairo.database.query import And, Node, Not, Operator, Or, Term
from lorairo.database.schema import (
    SOURCE_MANUAL,
    AnnotationFailure,
    Caption,
    Image,
    ImageCrop,
    ImageSimilarity,
    Model,
    ModelAnnotation,
    Rating,
    Score,
    Tag,
    TagDecision,
    TagVocabulary,
)
from lorairo.errors import ValidationError
from lorairo.utils.chunks import chunked

captions_fts = table("captions_fts", column("rowid"))
_FTS_COLUMN: ColumnElement[str] = literal_column("captions_fts")
LIKE_ESCAPE = "\\"
SORT_KEYS = ("added", "-added", "name", "-name", "score", "-score", "id", "-id", "random")
# Sort keys an index delivers in order, so a page can walk images and stop early.
INDEXED_SORTS = frozenset({"added", "-added", "name", "-name", "id", "-id"})
# Conditions on the image row itself (flags included): filters, not streams of their own.
IMAGE_FIELDS = frozenset({"flag", "width", "height", "id", "aspect", "added", "format", "name"})
# Beyond this many expanded tags a wildcard reads one IN range (sorted once) instead of a UNION.
MAX_UNION_TAGS = 32
# SELECTs per flat compound, below SQLite's SQLITE_MAX_COMPOUND_SELECT (500); longer chains nest.
MAX_CHAIN = 400

Wildcards = Mapping[str, Sequence[str]]
Stream = Select[Any] | CompoundSelect[Any]
SetOp = Literal["UNION", "INTERSECT", "EXCEPT"]
# SQLAlchemy's public compound constructors, one per set operation.
_COMPOUNDS: dict[SetOp, Callable[..., CompoundSelect[Any]]] = {
    "UNION": union,
    "INTERSECT": intersect,
    "EXCEPT": except_,
}


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


def _tag_names(term: Term, aliases: Mapping[str, str], wildcards: Wildcards) -> list[str] | None:
    """The exact tags a tag term stands for; None for a wildcard nobody expanded (LIKE then)."""
    value = str(term.value)
    if term.wildcard:
        expanded = wildcards.get(value)
        return None if expanded is None else list(expanded)
    resolved = aliases.get(value)
    return sorted({value, resolved}) if resolved else [value]


def _tag_match(term: Term, aliases: Mapping[str, str], wildcards: Wildcards) -> ColumnElement[bool]:
    names = _tag_names(term, aliases, wildcards)
    if names is None:
        return Tag.tag.like(like_pattern(str(term.value)), escape=LIKE_ESCAPE)
    nocase = Tag.tag.collate("NOCASE")
    if not names:
        return false()
    if len(names) == 1:
        return nocase == names[0]
    return nocase.in_(names)


def _tag_state(term: Term) -> ColumnElement[bool]:
    return rejected_tag() if term.field == "rejected" else effective_tag()


def vocabulary_matches(pattern: str) -> Select[Any]:
    """The distinct tags (ignoring case) a wildcard matches, from the small `tag_vocabulary`.

    LIKE and NOCASE fold the same (ASCII) letters, so matching one spelling of a tag stands for
    all its case variants, which `tag COLLATE NOCASE IN (...)` then finds.
    """
    return select(TagVocabulary.tag).where(TagVocabulary.tag.like(like_pattern(pattern), escape=LIKE_ESCAPE))


def wildcard_patterns(node: Node) -> list[str]:
    """The wildcard tag patterns of a query, for `vocabulary_matches`."""
    if isinstance(node, Term):
        wild = node.field in {"tag", "rejected"} and node.wildcard
        return [str(node.value)] if wild else []
    if isinstance(node, Not):
        return wildcard_patterns(node.child)
    return [pattern for child in node.children for pattern in wildcard_patterns(child)]


def _fts_rows(phrase: str) -> Select[Any]:
    return select(captions_fts.c.rowid).where(_FTS_COLUMN.match(fts_phrase(phrase)))


def _score_conditions(term: Term) -> list[ColumnElement[bool]]:
    kind = term.qualifier or DEFAULT_SCORE_KIND
    return [*effective_score_row(kind), _compare(Score.score, term.op, term.value)]


def _model_ids(names: tuple[str, ...]) -> Select[Any]:
    return select(Model.id).where(Model.name.in_(names))


def _edited() -> ColumnElement[bool]:
    """A person changed something: a manual row, a manually edited row, or a tag decision."""
    decided = or_(
        TagDecision.rejected_at.is_not(None),
        TagDecision.removed_at.is_not(None),
        TagDecision.position.is_not(None),
    )
    parts: list[ColumnElement[bool]] = [exists().where(TagDecision.image_id == Image.id, decided)]
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
            exists().where(ImageSimilarity.image_id == Image.id),
            exists().where(ImageSimilarity.similar_to_id == Image.id),
        )
    if name == "failed":
        return exists().where(AnnotationFailure.image_id == Image.id)
    if name == "edited":
        return _edited()
    if name == "reviewed":
        return Image.reviewed_at.is_not(None)
    raise ValidationError(f"unknown keyword {name!r}")


def _image_term(term: Term) -> ColumnElement[bool]:
    """A condition on the image row itself (IMAGE_FIELDS)."""
    field = term.field
    if field == "flag":
        return _flag(str(term.qualifier))
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
    raise ValidationError(f"at column {term.position}: unknown field {field!r}")


def _related(term: Term, aliases: Mapping[str, str], wildcards: Wildcards) -> tuple[Any, list[Any]]:
    """For a term on an annotation table: (its image-id column, the row conditions)."""
    field = term.field
    if field in {"tag", "rejected"}:
        return Tag.image_id, [_tag_match(term, aliases, wildcards), _tag_state(term)]
    if field == "caption":
        return Caption.image_id, [Caption.id.in_(_fts_rows(str(term.value))), effective_caption_row()]
    if field == "score":
        return Score.image_id, _score_conditions(term)
    if field == "crop":
        return ImageCrop.image_id, []
    assert isinstance(term.value, tuple)
    if field == "rating":
        return Rating.image_id, [effective_rating_row(), Rating.rating.in_(term.value)]
    if field in {"model", "missing"}:
        return ModelAnnotation.image_id, [ModelAnnotation.model_id.in_(_model_ids(term.value))]
    if field == "failed":
        return AnnotationFailure.image_id, [AnnotationFailure.model_name.in_(term.value)]
    raise ValidationError(f"at column {term.position}: unknown field {field!r}")


def _term(term: Term, aliases: Mapping[str, str], wildcards: Wildcards) -> ColumnElement[bool]:
    if term.field in IMAGE_FIELDS:
        return _image_term(term)
    image_id, conditions = _related(term, aliases, wildcards)
    found = exists().where(image_id == Image.id, *conditions)
    return not_(found) if term.field == "missing" else found


def compile_condition(
    node: Node, aliases: Mapping[str, str] | None = None, wildcards: Wildcards | None = None
) -> ColumnElement[bool]:
    """A per-image WHERE condition on `images`, true exactly for the images the query matches."""
    aliases = aliases or {}
    wildcards = wildcards or {}
    if isinstance(node, Term):
        return _term(node, aliases, wildcards)
    if isinstance(node, Not):
        return not_(compile_condition(node.child, aliases, wildcards))
    parts = [compile_condition(child, aliases, wildcards) for child in node.children]
    if isinstance(node, And):
        return and_(true(), *parts)
    assert isinstance(node, Or)
    return or_(false(), *parts)


# -- id streams ---------------------------------------------------------------------------------


class _Chain(CompoundSelect[Any]):
    """A compound that stays unparenthesised as the *left* member of another compound.

    SQLite rejects parenthesised compounds but evaluates a flat chain left to right, so
    `A INTERSECT B EXCEPT C` is `(A ∩ B) − C`. Only `_link` builds these, and other members
    are plain SELECTs (`_plain`), so an unparenthesised chain only ever stands on the left.
    """

    inherit_cache = True

    def __init__(self, compound: CompoundSelect[Any]) -> None:
        """Re-home a compound built by a public constructor (`union`, ...) as a flat chain."""
        super().__init__(compound.keyword, *compound.selects)

    def self_group(self, against: Any = None) -> Any:
        if isinstance(against, CompoundSelect):
            return self
        return super().self_group(against)


def _ids(column: Any, *conditions: Any) -> Select[Any]:
    return select(column.label("image_id")).where(*conditions)


def _plain(stream: Stream) -> Select[Any]:
    """A compound as a plain member (wrapped in a subquery) for a non-left position."""
    if isinstance(stream, Select):
        return stream
    return select(stream.subquery().c.image_id)


def _chain_length(stream: Any) -> int:
    """How many SELECTs SQLite sees in the flat chain `stream` renders to."""
    if isinstance(stream, _Chain):
        return _chain_length(stream.selects[0]) + len(stream.selects) - 1
    return 1


def _link(keyword: SetOp, left: Stream, others: list[Stream]) -> Stream:
    """`left KEYWORD o1 KEYWORD o2 ...` as one flat chain (one compile level, not one per member).

    Past MAX_CHAIN the others are grouped into wrapped sub-chains; for EXCEPT a group is their
    UNION, since x − a − b = x − (a ∪ b).
    """
    if not others:
        return left
    if len(others) >= MAX_CHAIN:
        grouping: SetOp = "UNION" if keyword == "EXCEPT" else keyword
        return _link(keyword, left, [_combine(grouping, chunk) for chunk in chunked(others, MAX_CHAIN)])
    if _chain_length(left) + len(others) > MAX_CHAIN:
        left = _plain(left)
    return _Chain(_COMPOUNDS[keyword](left, *[_plain(other) for other in others]))


def _combine(keyword: SetOp, streams: list[Stream]) -> Stream:
    """One associative set operation over streams; a compound member goes left, unwrapped."""
    streams = sorted(streams, key=lambda stream: isinstance(stream, Select))
    return _link(keyword, streams[0], streams[1:])


def _term_stream(term: Term, aliases: Mapping[str, str], wildcards: Wildcards) -> Stream:
    if term.field in IMAGE_FIELDS:
        return _ids(Image.id, _image_term(term))
    if term.field == "missing":
        model = Term("model", term.op, term.value, term.position)
        return _link("EXCEPT", _ids(Image.id), [_term_stream(model, aliases, wildcards)])
    if term.field in {"tag", "rejected"}:
        names = _tag_names(term, aliases, wildcards)
        if names is not None and 1 < len(names) <= MAX_UNION_TAGS:
            # One index range per tag, each in image-id order: a merge, not a sort.
            nocase = Tag.tag.collate("NOCASE")
            parts: list[Stream] = [_ids(Tag.image_id, nocase == name, _tag_state(term)) for name in names]
            return _combine("UNION", parts)
    image_id, conditions = _related(term, aliases, wildcards)
    return _ids(image_id, *conditions)


def _is_image_term(node: Node) -> bool:
    return isinstance(node, Term) and node.field in IMAGE_FIELDS


def _and_stream(node: And, aliases: Mapping[str, str], wildcards: Wildcards) -> Stream:
    filters: list[ColumnElement[bool]] = []
    positive: list[Stream] = []
    negative: list[Stream] = []
    for child in node.children:
        if _is_image_term(child):
            assert isinstance(child, Term)
            filters.append(_image_term(child))
        elif isinstance(child, Not) and _is_image_term(child.child):
            assert isinstance(child.child, Term)
            filters.append(not_(_image_term(child.child)))
        elif isinstance(child, Not):
            negative.append(_stream(child.child, aliases, wildcards))
        elif isinstance(child, Term) and child.field == "missing":
            negative.append(_term_stream(Term("model", "=", child.value, child.position), aliases, wildcards))
        else:
            positive.append(_stream(child, aliases, wildcards))
    if filters or not positive:
        positive.append(_ids(Image.id, *filters))
    left = _combine("INTERSECT", positive)
    return _link("EXCEPT", left, negative)


def id_stream(
    node: Node, aliases: Mapping[str, str] | None = None, wildcards: Wildcards | None = None
) -> Stream:
    """The matching image ids as a set expression (duplicates possible until `ordered_ids`)."""
    return _stream(node, aliases or {}, wildcards or {})


def _stream(node: Node, aliases: Mapping[str, str], wildcards: Wildcards) -> Stream:
    if isinstance(node, Term):
        return _term_stream(node, aliases, wildcards)
    if isinstance(node, Not):
        if _is_image_term(node.child):
            assert isinstance(node.child, Term)
            return _ids(Image.id, not_(_image_term(node.child)))
        inner = _stream(node.child, aliases, wildcards)
        return _link("EXCEPT", _ids(Image.id), [inner])
    if isinstance(node, And):
        return _and_stream(node, aliases, wildcards)
    assert isinstance(node, Or)
    streams = [_stream(child, aliases, wildcards) for child in node.children]
    return _combine("UNION", streams)


def ordered_ids(stream: Stream) -> Stream:
    """Distinct ids in ascending order; on a compound the ORDER BY makes SQLite merge the members."""
    if isinstance(stream, CompoundSelect):
        return stream.order_by(stream.selected_columns.image_id)
    return stream.distinct().order_by(stream.selected_columns.image_id)


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


def order_by(sort: str, seed: int, score_kind: str = DEFAULT_SCORE_KIND) -> list[Any]:
    """ORDER BY terms for a sort key; every order ends on the id so pages never overlap. `score`
    sorts on the effective score of `score_kind`, the one the grid shows."""
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
        expr = func.coalesce(effective_score(score_kind), -1e308)
    assert expr is not None
    if descending:
        return [expr.desc(), Image.id.desc()]
    return [expr, Image.id]


def select_ids(
    node: Node,
    *,
    aliases: Mapping[str, str] | None = None,
    wildcards: Wildcards | None = None,
    sort: str = "added",
    seed: int = 0,
    walk: bool = False,
    score_kind: str = DEFAULT_SCORE_KIND,
) -> Select[Any]:
    """Matching image ids in sort order; the caller adds LIMIT/OFFSET.

    `walk` tests images one by one in sort order (an indexed sort only), which wins when matches
    are dense enough that a page is found early; otherwise the id stream is built and sorted.
    """
    if walk:
        if sort not in INDEXED_SORTS:
            raise ValidationError(f"sort {sort!r} has no index to walk")
        condition = compile_condition(node, aliases, wildcards)
    else:
        condition = Image.id.in_(ordered_ids(id_stream(node, aliases, wildcards)))
    return select(Image.id).where(condition).order_by(*order_by(sort, seed, score_kind))


def count_matches(
    node: Node, aliases: Mapping[str, str] | None = None, wildcards: Wildcards | None = None
) -> Select[Any]:
    return select(func.count()).select_from(ordered_ids(id_stream(node, aliases, wildcards)).subquery())
