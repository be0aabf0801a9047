"""Compile a parsed search query into SQL over the project store.

Each term compiles through its field in `lorairo.database.query_fields` (the one place a field is
defined); this module combines them. Every user value becomes a bound parameter; wildcard
patterns are escaped before `*`/`?` turn into LIKE wildcards, and caption text is quoted as one
FTS5 phrase, so no input can change the SQL.

Semantics the Python reference evaluation (`query_fields.matches`) mirrors:
- a tag matches when it counts (`effective_tag`: accepted, neither rejected nor removed;
  `rejected:` asks for rejected rows instead), compared case-insensitively;
- captions, scores and ratings use the one *effective* row per image (and score kind) that
  `lorairo.database.effective` defines; `score:` without `[kind]` means DEFAULT_SCORE_KIND.

Two shapes of the same condition serve different plans:
- `compile_condition` is a per-image test (correlated EXISTS probes) for walking `images` in an
  indexed order and stopping after one page;
- `id_stream` is a set expression over image-id streams (`lorairo.database.id_streams`), each
  member read in image-id order from an index. Counts, sparse result pages and facets use it.
Wildcard tags are expanded beforehand (`expansions`, over `tag_vocabulary`) into the exact tags
they match, so both shapes seek the tag index instead of running LIKE over every tag row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)

from lorairo.database.choices import SORT_KEYS
from lorairo.database.effective import DEFAULT_SCORE_KIND, effective_score
from lorairo.database.id_streams import Stream, combine, count_ids, id_set, ids, joined, link
from lorairo.database.query import And, Node, Not, Or, Term
from lorairo.database.query_fields import KEYWORDS, SqlContext, field_of, terms
from lorairo.database.schema import Image
from lorairo.errors import ValidationError

# Sort keys an index delivers in order, so a page can walk images and stop early.
INDEXED_SORTS = frozenset({"added", "-added", "name", "-name", "id", "-id"})
_NO_CONTEXT = SqlContext()


def expansions(node: Node) -> dict[Term, Select[Any]]:
    """The vocabulary queries a query's terms need run first (their rows go to `SqlContext`)."""
    found: dict[Term, Select[Any]] = {}
    for term in terms(node):
        query = field_of(term).vocabulary(term)
        if query is not None and term not in found:
            found[term] = query
    return found


def without_loose(node: Node, ctx: SqlContext) -> Node | None:
    """The query with each loose term that reaches beyond its exact value (`tagword:red` finding
    "red theme") made to match nothing: the images it matches rank first. None when no term is
    loose that way, so there is nothing to rank."""
    changed = False

    def strict(item: Node) -> Node:
        nonlocal changed
        if isinstance(item, Term):
            field = field_of(item)
            if field.loose and not field.strictly_equal(item, ctx):
                changed = True
                return Not(KEYWORDS["all"].term(item.position))
            return item
        if isinstance(item, Not):
            return Not(strict(item.child))
        children = tuple(strict(child) for child in item.children)
        return And(children) if isinstance(item, And) else Or(children)

    result = strict(node)
    return result if changed else None


def compile_condition(
    node: Node, ctx: SqlContext | None = None, *, walk: bool = False
) -> ColumnElement[bool]:
    """A per-image WHERE condition on `images`, true exactly for the images the query matches.
    `walk`: tested image by image until a page is full (`select_ids`), not on every image."""
    ctx = ctx or _NO_CONTEXT
    if isinstance(node, Term):
        return field_of(node).condition(node, ctx)
    if isinstance(node, Not):
        return not_(compile_condition(node.child, ctx, walk=walk))
    if isinstance(node, And):
        lookups, rest = _lookups(node, ctx)
        found = [exists().where(image_id == Image.id, *conditions) for image_id, conditions in lookups]
        return and_(true(), *found, *(compile_condition(child, ctx, walk=walk) for child in rest))
    parts = [compile_condition(child, ctx, walk=walk) for child in node.children]
    assert isinstance(node, Or)
    if walk and joined(ctx.dialect):
        return _probed_or(node, ctx, parts)
    return or_(false(), *parts)


def _probed_or(node: Or, ctx: SqlContext, parts: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """An OR tested image by image on PostgreSQL. It reads an OR of EXISTS as hashed subplans,
    each hashing every id its member matches (100 ms at 100k images), on the row estimate of the
    scan, blind to the LIMIT a walk stops at. One EXISTS over a UNION ALL of the terms' correlated
    rows cannot be hashed: each image probes each term's index, as on SQLite. Other members
    (conditions on the image row, nested groups) stay conditions beside it."""
    probes: list[Select[Any]] = []
    others: list[ColumnElement[bool]] = []
    for child, part in zip(node.children, parts, strict=True):
        if not isinstance(child, Term) or field_of(child).negated or _row(child, ctx) is not None:
            others.append(part)
            continue
        image_id, conditions = field_of(child).related(child, ctx)
        probes.append(select(literal(1)).where(image_id == Image.id, *conditions).correlate(Image))
    if not probes:
        return or_(false(), *others)
    return or_(union_all(*probes).exists(), *others)


def _row(node: Node, ctx: SqlContext) -> ColumnElement[bool] | None:
    """The `images` row condition of a term on the image row itself, else None."""
    return field_of(node).row(node, ctx) if isinstance(node, Term) else None


def _lookups(node: And, ctx: SqlContext) -> tuple[list[tuple[Any, list[Any]]], list[Node]]:
    """An AND's terms that one lookup can answer together (`score:6..8` is two terms on the one
    effective score row: one scan of `scores`, not two joined), and the children left over."""
    groups: dict[tuple[str, str | None], list[Term]] = {}
    rest: list[Node] = []
    for child in node.children:
        if isinstance(child, Term) and field_of(child).together([child], ctx) is not None:
            groups.setdefault((child.field, child.qualifier), []).append(child)
        else:
            rest.append(child)
    lookups = [field_of(group[0]).together(group, ctx) for group in groups.values()]
    return [lookup for lookup in lookups if lookup is not None], rest


def _and_stream(node: And, ctx: SqlContext) -> Stream:
    filters: list[ColumnElement[bool]] = []
    lookups, rest = _lookups(node, ctx)
    positive: list[Stream] = [ids(image_id, *conditions) for image_id, conditions in lookups]
    negative: list[Stream] = []
    for child in rest:
        row = _row(child, ctx)
        negated_row = _row(child.child, ctx) if isinstance(child, Not) else None
        if row is not None:
            filters.append(row)
        elif negated_row is not None:
            filters.append(not_(negated_row))
        elif isinstance(child, Not):
            negative.append(_stream(child.child, ctx))
        elif isinstance(child, Term) and field_of(child).negated:
            negative.append(field_of(child).positive_stream(child, ctx))
        else:
            positive.append(_stream(child, ctx))
    if filters or not positive:
        positive.append(ids(Image.id, *filters))
    left = combine("INTERSECT", positive, ctx.dialect)
    return link("EXCEPT", left, negative, ctx.dialect)


def id_stream(node: Node, ctx: SqlContext | None = None) -> Stream:
    """The matching image ids as a set expression (duplicates possible until `count_ids` / `id_set`)."""
    return _stream(node, ctx or _NO_CONTEXT)


def _stream(node: Node, ctx: SqlContext) -> Stream:
    if isinstance(node, Term):
        return field_of(node).stream(node, ctx)
    if isinstance(node, Not):
        row = _row(node.child, ctx)
        if row is not None:
            return ids(Image.id, not_(row))
        return link("EXCEPT", ids(Image.id), [_stream(node.child, ctx)], ctx.dialect)
    if isinstance(node, And):
        return _and_stream(node, ctx)
    assert isinstance(node, Or)
    return combine("UNION", [_stream(child, ctx) for child in node.children], ctx.dialect)


def _shuffle_key(seed: int) -> Any:
    """A seeded hash of the id: stable across pages for one seed, a different order per seed.

    Multiply, XOR with the hashed seed (SQLite has no XOR: a ^ b = (a | b) - (a & b)), multiply
    again; without the XOR a seed would only rotate the order.
    """
    mask = literal(4294967296, BigInteger)  # 64-bit arithmetic on both engines (PostgreSQL's int is 32)
    hashed_seed = literal((seed * 2246822519 + 374761393) % 4294967296, BigInteger)
    mixed = (cast(Image.id, BigInteger) * literal(2654435761, BigInteger)) % mask
    xored = mixed.op("|")(hashed_seed) - mixed.op("&")(hashed_seed)
    return (xored * literal(668265263, BigInteger)) % mask


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
    ctx: SqlContext | None = None,
    sort: str = "added",
    seed: int = 0,
    walk: bool = False,
    score_kind: str = DEFAULT_SCORE_KIND,
    first: Node | None = None,
) -> Select[Any]:
    """Matching image ids in sort order; the caller adds LIMIT/OFFSET.

    `walk` tests images one by one in sort order (an indexed sort only), which wins when matches
    are dense enough that a page is found early; otherwise the id stream is built and sorted.
    `first` (from `without_loose`): images matching it come before the others, each group in
    sort order; it needs the sorted stream, not the walk.
    """
    if walk:
        if sort not in INDEXED_SORTS or first is not None:
            raise ValidationError(f"sort {sort!r} has no index to walk")
        condition = compile_condition(node, ctx, walk=True)
    else:
        ctx = ctx or _NO_CONTEXT
        condition = Image.id.in_(id_set(id_stream(node, ctx), ctx.dialect))
    ranks = [] if first is None else [case((compile_condition(first, ctx), 0), else_=1)]
    return select(Image.id).where(condition).order_by(*ranks, *order_by(sort, seed, score_kind))


def count_matches(node: Node, ctx: SqlContext | None = None) -> Select[Any]:
    """The match count, in the shape `ctx.dialect` counts fastest (`id_streams.count_ids`)."""
    ctx = ctx or _NO_CONTEXT
    return count_ids(id_stream(node, ctx), ctx.dialect)
