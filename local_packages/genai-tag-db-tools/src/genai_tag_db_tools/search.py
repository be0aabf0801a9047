"""Autocomplete over tags, aliases and translations (base and user overlay), ranked by usage count.

A prefix query is one range scan of a covering index that yields only row ids and counts; the
few winners are joined back for their text afterwards, so a one-letter prefix over hundreds of
thousands of terms never fetches more than `limit` rows; one- and two-character prefixes, whose
ranges are the widest, read a ranking precomputed at import (`prefix_top`). Every word start of a term is indexed
too (`long hair` is found by `hai`), so the usual "substring" need is a prefix scan as well.
Mid-word substring search (`substring=True`, for explicit lookups rather than keystrokes) walks
the covering count index from the most used term down and stops at `limit` hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from genai_tag_db_tools.cleaning import lookup_key
from genai_tag_db_tools.db.schema import PREFIX_TOP_LENGTH, PREFIX_TOP_ROWS
from genai_tag_db_tools.normalize import NormalizeResult


class TagSearcher(Protocol):
    """What autocomplete needs of a tag database (narrow, so this module never imports the facade)."""

    def read_session(self) -> AbstractContextManager[Session]: ...

    def normalize(self, tags: Sequence[str], format: str = "danbooru") -> NormalizeResult: ...


_MAX_KEY = "\U0010ffff"
# Each query picks ids from an index (or the precomputed ranking) first, then joins back for the text.
_PREFIX = text(
    """
    WITH top AS (
        SELECT id FROM search_terms INDEXED BY ix_search_terms_prefix
        WHERE format = :format AND term_key >= :lo AND term_key < :hi
        ORDER BY usage_count DESC LIMIT :n)
    SELECT st.term, st.kind, st.usage_count, p.tag AS tag, coalesce(ps.type, 'general') AS type
    FROM top JOIN search_terms st ON st.id = top.id
    JOIN tags p ON p.tag_id = st.tag_id
    LEFT JOIN tag_status ps ON ps.tag_id = st.tag_id AND ps.format = :format
    ORDER BY st.usage_count DESC
    """
)
_PREFIX_TOP = text(
    """
    WITH top AS (
        SELECT search_term_id AS id FROM prefix_top
        WHERE format = :format AND prefix = :lo AND rank <= :n)
    SELECT st.term, st.kind, st.usage_count, p.tag AS tag, coalesce(ps.type, 'general') AS type
    FROM top JOIN search_terms st ON st.id = top.id
    JOIN tags p ON p.tag_id = st.tag_id
    LEFT JOIN tag_status ps ON ps.tag_id = st.tag_id AND ps.format = :format
    ORDER BY st.usage_count DESC
    """
)
_SUBSTRING = text(
    """
    WITH top AS (
        SELECT id FROM search_terms INDEXED BY ix_search_terms_count
        WHERE format = :format AND instr(term_key, :q) > 0 AND NOT (term_key >= :lo AND term_key < :hi)
        ORDER BY usage_count DESC LIMIT :n)
    SELECT st.term, st.kind, st.usage_count, p.tag AS tag, coalesce(ps.type, 'general') AS type
    FROM top JOIN search_terms st ON st.id = top.id
    JOIN tags p ON p.tag_id = st.tag_id
    LEFT JOIN tag_status ps ON ps.tag_id = st.tag_id AND ps.format = :format
    ORDER BY st.usage_count DESC
    """
)
_OVERLAY = text(
    """
    SELECT alias AS term, 'user_alias' AS kind, preferred AS target FROM overlay.user_aliases
    WHERE key >= :lo AND key < :hi
    UNION ALL
    SELECT tag, 'user_tag', tag FROM overlay.user_tags WHERE key >= :lo AND key < :hi
    UNION ALL
    SELECT text, 'user_translation', tag FROM overlay.user_translations
    WHERE text_key >= :lo AND text_key < :hi
    LIMIT :n
    """
)


@dataclass(frozen=True, slots=True)
class TagSuggestion:
    """`tag` is what to insert (the preferred tag); `matched` is the term the user's text hit."""

    tag: str
    type: str | None
    usage_count: int
    matched: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def search(
    database: TagSearcher,
    query: str,
    *,
    format: str = "danbooru",
    limit: int = 10,
    substring: bool = False,
) -> list[TagSuggestion]:
    """Prefix/word-start matches first; mid-word matches fill the rest when `substring` (2+ chars)."""
    key = lookup_key(query)
    if not key or limit <= 0:
        return []
    # Several terms (a tag, its aliases, translations) can name one tag: over-fetch, then dedupe.
    fetch = limit * 3
    bounds = {"format": format, "lo": key, "hi": key + _MAX_KEY, "n": fetch}
    short = len(key) <= PREFIX_TOP_LENGTH and fetch <= PREFIX_TOP_ROWS
    with database.read_session() as session:
        prefix_rows = list(session.execute(_PREFIX_TOP if short else _PREFIX, bounds))
        overlay_rows = list(session.execute(_OVERLAY, bounds))
        substring_rows = (
            list(session.execute(_SUBSTRING, {**bounds, "q": key}))
            if substring and len(key) >= 2 and len(prefix_rows) < fetch
            else []
        )
    found = [_suggestion(row) for row in prefix_rows]
    if overlay_rows:
        found += _overlay_suggestions(database, overlay_rows, format)
        found.sort(key=lambda suggestion: -suggestion.usage_count)
    found += [_suggestion(row) for row in substring_rows]
    return _unique(found, limit)


def _suggestion(row: Row[Any]) -> TagSuggestion:
    return TagSuggestion(row.tag, row.type, int(row.usage_count), row.term, row.kind)


def _overlay_suggestions(database: TagSearcher, rows: list[Row[Any]], format: str) -> list[TagSuggestion]:
    resolved = database.normalize([row.target for row in rows], format=format).tags
    return [
        TagSuggestion(hit.tag, hit.type or "general", hit.usage_count, row.term, row.kind)
        for row, hit in zip(rows, resolved, strict=True)
    ]


def _unique(found: list[TagSuggestion], limit: int) -> list[TagSuggestion]:
    seen: set[str] = set()
    unique: list[TagSuggestion] = []
    for suggestion in found:
        folded = suggestion.tag.casefold()
        if folded not in seen:
            seen.add(folded)
            unique.append(suggestion)
            if len(unique) == limit:
                break
    return unique
