"""Set expressions over image-id streams: the shape of a query that counts, sparse pages and facets
run (`lorairo.database.search_sql.id_stream`).

Each member reads image ids in id order from an index and INTERSECT / UNION / EXCEPT combine them,
so SQLite merges the members without building temp b-trees; the cost is the size of the streams,
not of the project.

PostgreSQL hashes INTERSECT and EXCEPT (HashSetOp over every id of every member: 2-3x SQLite's
merge at 60k ids). There (`joined`) they become EXISTS / NOT EXISTS on the left member, which its
planner turns into merge or hash semi- and anti-joins of the same index streams; duplicates of
the left member stay until the one DISTINCT of `count_ids` or the semi-join of `id_set`. UNION
stays UNION: its row estimate (the sum of the members) keeps the plans around it sane, where
UNION ALL under a DISTINCT or IN is guessed at 200 ids. This module is the one place that tells
the shapes apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import (
    CompoundSelect,
    Select,
    distinct,
    except_,
    exists,
    func,
    intersect,
    select,
    union,
    union_all,
)
from sqlalchemy.sql.elements import Label

from lorairo.database.dialect import flat_compound
from lorairo.utils.chunks import chunked

# SELECTs per flat compound, below SQLite's SQLITE_MAX_COMPOUND_SELECT (500); longer chains nest.
MAX_CHAIN = 400

Stream = Select[Any] | CompoundSelect[Any]
SetOp = Literal["UNION", "INTERSECT", "EXCEPT"]
# SQLAlchemy's public compound constructors, one per set operation.
_COMPOUNDS: dict[SetOp, Callable[..., CompoundSelect[Any]]] = {
    "UNION": union,
    "INTERSECT": intersect,
    "EXCEPT": except_,
}


def _unflat(member: Any) -> Any:
    """A compound's member as built, without the `flat_compound` grouping it got as a member."""
    return member.element if isinstance(member, flat_compound) else member


class _Chain(CompoundSelect[Any]):
    """A compound that stays unparenthesised as the *left* member of another compound.

    SQLite rejects parenthesised compounds but evaluates a flat chain left to right, so
    `A INTERSECT B EXCEPT C` is `(A ∩ B) − C`. Only `link` builds these, and other members
    are plain SELECTs (`_plain`), so an unparenthesised chain only ever stands on the left.
    """

    inherit_cache = True

    def __init__(self, compound: CompoundSelect[Any]) -> None:
        """Re-home a compound built by a public constructor (`union`, ...) as a flat chain."""
        super().__init__(compound.keyword, *(_unflat(member) for member in compound.selects))

    def self_group(self, against: Any = None) -> Any:
        if isinstance(against, CompoundSelect):
            return flat_compound(self)  # type: ignore[arg-type]  # a compound is a valid Grouping element
        return super().self_group(against)


def ids(column: Any, *conditions: Any) -> Select[Any]:
    """One member: `column` (an image id) as `image_id` where `conditions` hold."""
    return select(column.label("image_id")).where(*conditions)


def _plain(stream: Stream) -> Select[Any]:
    """A compound as a plain member (wrapped in a subquery) for a non-left position."""
    if isinstance(stream, Select):
        return stream
    return select(stream.subquery().c.image_id)


def _chain_length(stream: Any) -> int:
    """How many SELECTs SQLite sees in the flat chain `stream` renders to."""
    if isinstance(stream, _Chain):
        return _chain_length(_unflat(stream.selects[0])) + len(stream.selects) - 1
    return 1


def joined(dialect: str) -> bool:
    """Whether set operations on this engine are joins (PostgreSQL) rather than compounds."""
    return dialect == "postgresql"


def link(keyword: SetOp, left: Stream, others: list[Stream], dialect: str) -> Stream:
    """`left KEYWORD o1 KEYWORD o2 ...` as one flat chain (one compile level, not one per member),
    or as joins on `left` where the engine wants them (`joined`).

    Past MAX_CHAIN the others are grouped into wrapped sub-chains; for EXCEPT a group is their
    UNION, since x − a − b = x − (a ∪ b).
    """
    if not others:
        return left
    if joined(dialect):
        return _join(keyword, left, others)
    if len(others) >= MAX_CHAIN:
        grouping: SetOp = "UNION" if keyword == "EXCEPT" else keyword
        chunks = [combine(grouping, chunk, dialect) for chunk in chunked(others, MAX_CHAIN)]
        return link(keyword, left, chunks, dialect)
    if _chain_length(left) + len(others) > MAX_CHAIN:
        left = _plain(left)
    return _Chain(_COMPOUNDS[keyword](left, *[_plain(other) for other in others]))


def combine(keyword: SetOp, streams: list[Stream], dialect: str) -> Stream:
    """One associative set operation over streams; a compound member goes left, unwrapped."""
    if not joined(dialect):
        streams = sorted(streams, key=lambda stream: isinstance(stream, Select))
    return link(keyword, streams[0], streams[1:], dialect)


def _join(keyword: SetOp, left: Stream, others: list[Stream]) -> Stream:
    """The set operation as PostgreSQL plans it best: UNION, or the left member filtered by an
    EXISTS (INTERSECT) or NOT EXISTS (EXCEPT) per other member.
    Each other member is a FROM subquery, so a member on the same table as `left` cannot
    correlate with it; the planner flattens the subqueries into semi- and anti-joins."""
    if keyword == "UNION":
        return union(*(_plain(stream) for stream in (left, *others)))
    base = _plain(_with_duplicates(left))  # the left side is scanned, never looked up
    key = base.selected_columns[0]
    if isinstance(key, Label):
        key = key.element  # the column itself: a condition cannot name the SELECT's label
    for other in others:
        member = other.subquery()
        found = exists().where(member.c.image_id == key)
        base = base.where(found if keyword == "INTERSECT" else ~found)
    return base


def _with_duplicates(stream: Stream) -> Stream:
    """A UNION as UNION ALL, where duplicate ids cost nothing: what is counted DISTINCT, or the
    side of a join that is scanned (its row estimate is the same sum). Other streams as they are."""
    if isinstance(stream, CompoundSelect) and stream.keyword.value == "UNION":
        return union_all(*stream.selects)
    return stream


def count_ids(stream: Stream, dialect: str) -> Select[Any]:
    """How many distinct ids the stream holds. SQLite counts the id-ordered stream, which it
    merges without temp b-trees; PostgreSQL counts DISTINCT over the joined shape (a sort inside
    the aggregate, cheaper there than hashing the ids)."""
    if joined(dialect):
        stream = _with_duplicates(stream)  # the DISTINCT below de-duplicates, once
        return select(func.count(distinct(stream.subquery().c.image_id)))
    return select(func.count()).select_from(ordered_ids(stream).subquery())


def id_set(stream: Stream, dialect: str) -> Select[Any]:
    """The stream as the operand of `IN (...)`, always as a FROM subquery: IN re-coerces a bare
    compound and drops its members' parentheses, which PostgreSQL needs (INTERSECT binds tighter
    there than UNION). PostgreSQL's semi-join ignores duplicates, so there it is neither ordered
    nor made distinct."""
    if joined(dialect):
        return select(stream.subquery().c.image_id)
    return select(ordered_ids(stream).subquery().c.image_id)


def ordered_ids(stream: Stream) -> Stream:
    """Distinct ids in ascending order; on a compound the ORDER BY makes SQLite merge the members."""
    if isinstance(stream, CompoundSelect):
        return stream.order_by(stream.selected_columns.image_id)
    return stream.distinct().order_by(stream.selected_columns.image_id)
