"""The query tree the store accepts: what `search_sql` compiles and the repositories run.

It lives in the database layer (as beets' dbcore owns its query classes) so the store never imports
the query language; `lorairo.search.query_language` parses text into these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Operator = Literal["=", ">", ">=", "<", "<="]
TermValue = str | float | datetime | tuple[str, ...] | None


@dataclass(frozen=True)
class Term:
    """One condition. `value` is cleaned and typed for its field; `flag` terms carry None.

    For `tag`, `rejected` and `name`, `wildcard` says whether `value` holds `*`/`?` patterns.
    For flags such as `untagged`, `field` is "flag" and `qualifier` names the flag.
    `resolved` holds image ids a service computed before SQL for fields that need them (see
    `lorairo.database.query_fields.resolve_terms`); None until then.
    """

    field: str
    op: Operator
    value: TermValue
    position: int
    qualifier: str | None = None
    wildcard: bool = False
    resolved: tuple[int, ...] | None = None


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Term | And | Or | Not
