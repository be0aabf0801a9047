"""Set expressions over image-id streams: the shape of a query that counts, sparse pages and facets
run (`lorairo.database.search_sql.id_stream`).

Each member reads image ids in id order from an index and INTERSECT / UNION / EXCEPT combine them,
so SQLite merges the members without building temp b-trees; the cost is the size of the streams,
not of the project.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import CompoundSelect, Select, except_, intersect, select, union

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


def link(keyword: SetOp, left: Stream, others: list[Stream]) -> Stream:
    """`left KEYWORD o1 KEYWORD o2 ...` as one flat chain (one compile level, not one per member).

    Past MAX_CHAIN the others are grouped into wrapped sub-chains; for EXCEPT a group is their
    UNION, since x − a − b = x − (a ∪ b).
    """
    if not others:
        return left
    if len(others) >= MAX_CHAIN:
        grouping: SetOp = "UNION" if keyword == "EXCEPT" else keyword
        return link(keyword, left, [combine(grouping, chunk) for chunk in chunked(others, MAX_CHAIN)])
    if _chain_length(left) + len(others) > MAX_CHAIN:
        left = _plain(left)
    return _Chain(_COMPOUNDS[keyword](left, *[_plain(other) for other in others]))


def combine(keyword: SetOp, streams: list[Stream]) -> Stream:
    """One associative set operation over streams; a compound member goes left, unwrapped."""
    streams = sorted(streams, key=lambda stream: isinstance(stream, Select))
    return link(keyword, streams[0], streams[1:])


def distinct_ids(stream: Stream) -> Stream:
    """Distinct ids in no promised order: all a count needs where ordering costs a sort
    (PostgreSQL hashes set operations). Set operations are distinct already."""
    return stream if isinstance(stream, CompoundSelect) else stream.distinct()


def id_set(stream: Stream) -> Select[Any]:
    """The stream as the operand of `IN (...)`. IN re-coerces a bare compound and drops its
    members' parentheses, which PostgreSQL needs (INTERSECT binds tighter there than UNION); as a
    FROM subquery the compound renders as built."""
    return select(ordered_ids(stream).subquery().c.image_id)


def ordered_ids(stream: Stream) -> Stream:
    """Distinct ids in ascending order; on a compound the ORDER BY makes SQLite merge the members."""
    if isinstance(stream, CompoundSelect):
        return stream.order_by(stream.selected_columns.image_id)
    return stream.distinct().order_by(stream.selected_columns.image_id)
