"""Bulk normalisation: raw tags -> preferred tags with their type, in one query per call.

Each call looks up only the keys it has not seen before, all in a single statement (the keys are
bound as one JSON array, so there is no parameter-count limit). Results are cached per raw string,
so the common tags of a dataset cost a dict lookup; the cache is dropped whenever the database
changes (overlay edit or base replacement) and when it grows past `MAX_CACHE` entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from genai_tag_db_tools.cleaning import clean_tag, is_network_span, lookup_key
from genai_tag_db_tools.db.schema import FORMATS

Status = Literal["known", "alias", "deprecated", "user_alias", "unknown", "passthrough"]
MAX_CACHE = 500_000

# Resolution order: user alias first, then the base status in the requested format (alias or
# deprecated -> preferred), then a user-declared tag, then the tag in any other format.
_LOOKUP = text(
    """
    WITH input(key) AS (SELECT DISTINCT value FROM json_each(:keys)),
    target AS (
        SELECT i.key AS key, ua.preferred AS user_preferred, coalesce(ua.preferred_key, i.key) AS tkey
        FROM input i LEFT JOIN overlay.user_aliases ua ON ua.key = i.key
    )
    SELECT tg.key, tg.user_preferred,
           t.tag_id, t.tag AS own_tag,
           s.deprecated, s.preferred_tag_id,
           p.tag AS preferred, coalesce(ps.type, s.type) AS preferred_type,
           coalesce(ps.usage_count, s.usage_count) AS usage_count,
           CASE WHEN s.tag_id IS NULL AND t.tag_id IS NOT NULL THEN
               (SELECT o.type FROM tag_status o WHERE o.tag_id = t.tag_id
                ORDER BY o.usage_count DESC LIMIT 1) END AS other_type,
           ut.tag AS user_tag, ut.type AS user_type
    FROM target tg
    LEFT JOIN tags t ON t.key = tg.tkey
    LEFT JOIN tag_status s ON s.tag_id = t.tag_id AND s.format = :format
    LEFT JOIN tags p ON p.tag_id = s.preferred_tag_id
    LEFT JOIN tag_status ps ON ps.tag_id = s.preferred_tag_id AND ps.format = :format
    LEFT JOIN overlay.user_tags ut ON ut.key = tg.tkey
    """
)


@dataclass(frozen=True, slots=True)
class NormalizedTag:
    """One input tag: `tag` is the preferred spelling (or the cleaned input when unknown)."""

    input: str
    tag: str
    type: str | None
    status: Status
    usage_count: int = 0
    deprecated: bool = False

    @property
    def known(self) -> bool:
        return self.status not in ("unknown", "passthrough")

    @property
    def changed(self) -> bool:
        return self.status in ("alias", "deprecated", "user_alias")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class NormalizeResult:
    tags: list[NormalizedTag]

    @property
    def unknown(self) -> list[str]:
        """Distinct unknown inputs (cleaned), first occurrence first."""
        return list(dict.fromkeys(t.tag for t in self.tags if t.status == "unknown"))

    def to_dict(self) -> dict[str, object]:
        return {"tags": [t.to_dict() for t in self.tags], "unknown": self.unknown}


@dataclass(frozen=True, slots=True)
class _Resolved:
    tag: str
    type: str | None
    status: Status
    usage_count: int
    deprecated: bool


class TagReader(Protocol):
    """What normalisation needs of a tag database: a read session and a change counter.

    Narrow on purpose, so that this module never imports the `TagDatabase` facade that uses it.
    """

    generation: int

    def read_session(self) -> AbstractContextManager[Session]: ...


class Normalizer:
    """Normalises against one tag database, caching what it has already looked up."""

    def __init__(self, database: TagReader) -> None:
        self.database = database
        self._generation = database.generation
        self._by_raw: dict[str, dict[str, NormalizedTag]] = {}

    def normalize(self, tags: Sequence[str], format: str = "danbooru") -> NormalizeResult:
        if format not in FORMATS:
            raise ValueError(f"unknown tag format {format!r}; use one of {', '.join(FORMATS)}")
        cache = self._cache(format)
        pending = [raw for raw in dict.fromkeys(tags) if raw not in cache]
        if pending:
            keys = {raw: ("" if is_network_span(raw) else lookup_key(raw)) for raw in pending}
            resolved = self._lookup({key for key in keys.values() if key}, format)
            for raw, key in keys.items():
                cache[raw] = _build(raw, key, resolved.get(key))
        return NormalizeResult([cache[raw] for raw in tags])

    def _cache(self, format: str) -> dict[str, NormalizedTag]:
        size = sum(len(entries) for entries in self._by_raw.values())
        if self._generation != self.database.generation or size > MAX_CACHE:
            self._by_raw.clear()
            self._generation = self.database.generation
        return self._by_raw.setdefault(format, {})

    def _lookup(self, keys: Iterable[str], format: str) -> dict[str, _Resolved]:
        key_list = list(keys)
        if not key_list:
            return {}
        with self.database.read_session() as session:
            rows = session.execute(_LOOKUP, {"keys": json.dumps(key_list), "format": format}).all()
        resolved: dict[str, _Resolved] = {}
        for row in rows:
            hit = _resolve_row(row)
            if hit is not None:
                resolved[row[0]] = hit
        return resolved


def _resolve_row(row: Sequence[Any]) -> _Resolved | None:
    # Positional unpacking: attribute access on Row costs more than the whole lookup per tag.
    (
        _key,
        user_preferred,
        tag_id,
        own_tag,
        deprecated_flag,
        preferred_tag_id,
        preferred,
        preferred_type,
        usage_count,
        other_type,
        user_tag,
        user_type,
    ) = row
    user = user_preferred is not None
    if preferred_tag_id is not None:
        replaced = preferred_tag_id != tag_id
        deprecated = bool(deprecated_flag)
        status: Status = "known"
        if replaced:
            status = "user_alias" if user else "deprecated" if deprecated else "alias"
        elif user:
            status = "user_alias"
        return _Resolved(
            preferred, preferred_type, status, int(usage_count or 0), deprecated and not replaced
        )
    status = "user_alias" if user else "known"
    if user_tag is not None:
        return _Resolved(user_tag, user_type, status, 0, False)
    if own_tag is not None:
        return _Resolved(own_tag, other_type, status, 0, False)
    if user:
        return _Resolved(user_preferred, None, status, 0, False)
    return None


def _build(raw: str, key: str, hit: _Resolved | None) -> NormalizedTag:
    if not key:
        return NormalizedTag(raw, raw.strip() if is_network_span(raw) else "", None, "passthrough")
    if hit is None:
        return NormalizedTag(raw, clean_tag(raw), None, "unknown")
    return NormalizedTag(raw, hit.tag, hit.type, hit.status, hit.usage_count, hit.deprecated)
