"""Building a base file: stream records into staging tables, then resolve them with set-based SQL.

Importers never hold the vocabulary in memory: rows go to staging tables in batches, and ids,
alias targets, alias chains and the autocomplete table are all computed inside SQLite.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, delete, insert, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from genai_tag_db_tools.cleaning import clean_tag, is_network_span, lookup_key
from genai_tag_db_tools.db.database import open_engine
from genai_tag_db_tools.db.schema import (
    FORMATS,
    PREFIX_TOP_LENGTH,
    PREFIX_TOP_ROWS,
    TAG_TYPES,
    BaseTables,
    Metadata,
    PrefixTop,
    SearchTerm,
)

BATCH_ROWS = 5_000
MALFORMED_EXAMPLES = 3
_ALIAS_CHAIN_PASSES = 8

_staging = MetaData()
_stage_tags = Table(
    "stage_tags",
    _staging,
    Column("seq", Integer, primary_key=True),
    Column("key", Text),
    Column("tag", Text),
    Column("format", Text),
    Column("type", Text),
    Column("usage_count", Integer),
    Column("preferred_key", Text),
    Column("preferred", Text),
    Column("deprecated", Integer),
    prefixes=["TEMPORARY"],
)
_stage_translations = Table(
    "stage_translations",
    _staging,
    Column("key", Text),
    Column("language", Text),
    Column("text", Text),
    Column("text_key", Text),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True, slots=True)
class TagRecord:
    """One tag (or alias, when `preferred` is set) as an importer read it."""

    name: str
    format: str = "danbooru"
    type: str = "general"
    usage_count: int = 0
    preferred: str | None = None
    deprecated: bool = False


@dataclass(frozen=True, slots=True)
class TranslationRecord:
    name: str
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class MalformedLine:
    """A source line an importer could not read; counted so a mostly-broken file is refused."""

    line: int
    text: str


Record = TagRecord | TranslationRecord | MalformedLine


@dataclass
class ImportReport:
    source: str
    rows_read: int = 0
    skipped: int = 0
    lines: int = 0  # source lines that name a tag (aliases not counted), malformed ones included
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    conflicts: int = 0
    tags: int = 0
    aliases: int = 0
    translations: int = 0
    formats: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Set-based resolution, in order. Main rows are preferred over alias rows when choosing a
# spelling and when a key is both (an alias row never overrides a real tag's status).
_RESOLVE = [
    """INSERT OR IGNORE INTO tags(key, tag)
       SELECT key, tag FROM (
         SELECT key, tag, min(CASE WHEN preferred_key IS NULL THEN seq ELSE seq + 1099511627776 END)
         FROM stage_tags GROUP BY key)""",
    """INSERT OR IGNORE INTO tags(key, tag)
       SELECT preferred_key, preferred FROM stage_tags WHERE preferred_key IS NOT NULL""",
    """INSERT OR REPLACE INTO tag_status(tag_id, format, type, alias, deprecated, preferred_tag_id, usage_count)
       SELECT t.tag_id, s.format, s.type, s.preferred_key IS NOT NULL AND NOT s.deprecated, s.deprecated,
              coalesce(p.tag_id, t.tag_id), s.usage_count
       FROM stage_tags s JOIN tags t ON t.key = s.key LEFT JOIN tags p ON p.key = s.preferred_key
       LEFT JOIN stage_targets pt ON pt.key = s.preferred_key AND pt.format = s.format
       ORDER BY s.preferred_key IS NULL, coalesce(pt.usage_count, 0), coalesce(pt.deprecated, 0) DESC,
                s.seq""",
    # An alias listed under several tags: every candidate, ranked the way the insert above let
    # them win (rank 1 was inserted last), so `tags db info --conflicts` can show the evidence.
    """INSERT OR REPLACE INTO alias_conflicts(format, alias_key, alias, target, target_usage_count, target_deprecated, rank)
       SELECT format, key, tag, preferred, usage_count, deprecated, rank FROM (
         SELECT s.format, s.key, s.tag, s.preferred, coalesce(pt.usage_count, 0) AS usage_count,
                coalesce(pt.deprecated, 0) AS deprecated,
                row_number() OVER (PARTITION BY s.format, s.key
                    ORDER BY coalesce(pt.usage_count, 0) DESC, coalesce(pt.deprecated, 0), s.seq DESC) AS rank,
                count(*) OVER (PARTITION BY s.format, s.key) AS candidates
         FROM (SELECT format, key, min(tag) AS tag, preferred_key, min(preferred) AS preferred, max(seq) AS seq
               FROM stage_tags WHERE preferred_key IS NOT NULL GROUP BY format, key, preferred_key) s
         LEFT JOIN stage_targets pt ON pt.key = s.preferred_key AND pt.format = s.format
         WHERE NOT EXISTS (SELECT 1 FROM stage_tags m
                           WHERE m.key = s.key AND m.format = s.format AND m.preferred_key IS NULL))
       WHERE candidates > 1""",
]
# The evidence for choosing between alias targets: each main tag's post count and deprecation.
_TARGETS = [
    "CREATE INDEX temp.ix_stage_tags_key ON stage_tags(key, format)",
    """CREATE TEMPORARY TABLE stage_targets AS
       SELECT key, format, max(usage_count) AS usage_count, min(deprecated) AS deprecated
       FROM stage_tags WHERE preferred_key IS NULL GROUP BY key, format""",
    "CREATE UNIQUE INDEX temp.ix_stage_targets ON stage_targets(key, format)",
]
_FLATTEN = """
    UPDATE tag_status SET preferred_tag_id = (
        SELECT n.preferred_tag_id FROM tag_status n
        WHERE n.tag_id = tag_status.preferred_tag_id AND n.format = tag_status.format)
    WHERE preferred_tag_id != tag_id AND EXISTS (
        SELECT 1 FROM tag_status n
        WHERE n.tag_id = tag_status.preferred_tag_id AND n.format = tag_status.format
          AND n.preferred_tag_id != n.tag_id)
"""
_FINISH = [
    "UPDATE tag_status SET alias = 0 WHERE preferred_tag_id = tag_id",
    """INSERT OR IGNORE INTO tag_translations(tag_id, language, text, key)
       SELECT t.tag_id, st.language, st.text, st.text_key
       FROM stage_translations st JOIN tags t ON t.key = st.key""",
    """INSERT INTO search_terms(format, term_key, term, kind, tag_id, usage_count)
       SELECT s.format, t.key, t.tag, CASE WHEN s.preferred_tag_id = s.tag_id THEN 'tag' ELSE 'alias' END,
              s.preferred_tag_id, coalesce(ps.usage_count, s.usage_count)
       FROM tag_status s JOIN tags t ON t.tag_id = s.tag_id
       LEFT JOIN tag_status ps ON ps.tag_id = s.preferred_tag_id AND ps.format = s.format
       WHERE NOT (s.deprecated AND s.preferred_tag_id = s.tag_id)""",
    """INSERT INTO search_terms(format, term_key, term, kind, tag_id, usage_count)
       SELECT s.format, tr.key, tr.text, 'translation', s.preferred_tag_id,
              coalesce(ps.usage_count, s.usage_count)
       FROM tag_translations tr JOIN tag_status s ON s.tag_id = tr.tag_id
       LEFT JOIN tag_status ps ON ps.tag_id = s.preferred_tag_id AND ps.format = s.format
       WHERE NOT (s.deprecated AND s.preferred_tag_id = s.tag_id)""",
    # Every later word start of a term becomes a term too, so `hai` finds `long hair` by prefix.
    """WITH RECURSIVE words(id, rest) AS (
           SELECT id, substr(term_key, instr(term_key, ' ') + 1) FROM search_terms
           WHERE instr(term_key, ' ') > 0
           UNION ALL
           SELECT id, substr(rest, instr(rest, ' ') + 1) FROM words WHERE instr(rest, ' ') > 0)
       INSERT INTO search_terms(format, term_key, term, kind, tag_id, usage_count)
       SELECT s.format, w.rest, s.term, s.kind, s.tag_id, s.usage_count
       FROM words w JOIN search_terms s ON s.id = w.id WHERE w.rest != ''""",
]


_PREFIX_TOP = """
    INSERT INTO prefix_top(format, prefix, rank, search_term_id)
    SELECT format, prefix, rank, id FROM (
        SELECT format, substr(term_key, 1, :length) AS prefix, id,
               row_number() OVER (PARTITION BY format, substr(term_key, 1, :length)
                                  ORDER BY usage_count DESC, id) AS rank
        FROM search_terms WHERE length(term_key) >= :length)
    WHERE rank <= :rows
"""


def normalize_type(value: str) -> str:
    """Map any source's category name onto the five tag types (species/lore etc. -> general/meta)."""
    lowered = value.strip().lower()
    if lowered in TAG_TYPES:
        return lowered
    return "meta" if lowered in {"lore", "invalid", "metadata", "rating"} else "general"


def build_base(
    path: Path,
    records: Iterable[Record],
    *,
    source: str,
    copy_from: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Write a complete base file at `path` from `records` (added to a copy of `copy_from` if given)."""
    if copy_from is not None and copy_from.exists():
        shutil.copy2(copy_from, path)
    engine = open_engine(path)
    report = ImportReport(source=source)
    formats: set[str] = set()
    try:
        BaseTables.metadata.create_all(engine)
        with engine.begin() as connection:
            _staging.create_all(connection)
            tags: list[dict[str, Any]] = []
            translations: list[dict[str, Any]] = []
            for record in records:
                report.rows_read += 1
                if isinstance(record, MalformedLine):
                    report.lines += 1
                    report.malformed += 1
                    if len(report.malformed_examples) < MALFORMED_EXAMPLES:
                        report.malformed_examples.append(f"line {record.line}: {record.text}")
                    continue
                if isinstance(record, TagRecord) and record.preferred is None:
                    report.lines += 1
                row = _stage_row(record)
                if row is None:
                    report.skipped += 1
                elif isinstance(record, TagRecord):
                    tags.append(row)
                    formats.add(record.format)
                else:
                    translations.append(row)
                if len(tags) + len(translations) >= BATCH_ROWS:
                    _flush(connection, tags, translations)
                    if on_progress is not None:
                        on_progress(report.rows_read)
            _flush(connection, tags, translations)
            for statement in _TARGETS:
                connection.execute(text(statement))
            for statement in _RESOLVE:
                connection.execute(text(statement))
            for _ in range(_ALIAS_CHAIN_PASSES):
                if not connection.execute(text(_FLATTEN)).rowcount:
                    break
            connection.execute(delete(SearchTerm))
            connection.execute(delete(PrefixTop))
            for statement in _FINISH:
                connection.execute(text(statement))
            for length in range(1, PREFIX_TOP_LENGTH + 1):
                connection.execute(text(_PREFIX_TOP), {"length": length, "rows": PREFIX_TOP_ROWS})
            connection.execute(text("DROP TABLE stage_targets"))
            _staging.drop_all(connection)
            report.tags = connection.execute(text("SELECT count(*) FROM tags")).scalar_one()
            report.aliases = connection.execute(
                text("SELECT count(*) FROM tag_status WHERE preferred_tag_id != tag_id")
            ).scalar_one()
            report.translations = connection.execute(
                text("SELECT count(*) FROM tag_translations")
            ).scalar_one()
            report.conflicts = connection.execute(
                text("SELECT count(*) FROM alias_conflicts WHERE rank = 1")
            ).scalar_one()
            report.formats = sorted(formats)
            _write_metadata(connection, report)
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    if on_progress is not None:
        on_progress(report.rows_read)
    return report


def _stage_row(record: TagRecord | TranslationRecord) -> dict[str, Any] | None:
    if isinstance(record, TranslationRecord):
        key, translation = lookup_key(record.name), record.text.strip()
        if not key or not translation or not record.language.strip():
            return None
        return {
            "key": key,
            "language": record.language.strip(),
            "text": translation,
            "text_key": lookup_key(translation),
        }
    if record.format not in FORMATS or is_network_span(record.name):
        return None
    tag = clean_tag(record.name)
    if not tag:
        return None
    preferred = clean_tag(record.preferred) if record.preferred else ""
    preferred_key = preferred.casefold() or None
    if preferred_key == tag.casefold():
        preferred_key = None
    return {
        "key": tag.casefold(),
        "tag": tag,
        "format": record.format,
        "type": normalize_type(record.type),
        "usage_count": max(int(record.usage_count), 0),
        "preferred_key": preferred_key,
        "preferred": preferred if preferred_key else None,
        "deprecated": int(record.deprecated),
    }


def _flush(connection: Any, tags: list[dict[str, Any]], translations: list[dict[str, Any]]) -> None:
    if tags:
        connection.execute(insert(_stage_tags), tags)
        tags.clear()
    if translations:
        connection.execute(insert(_stage_translations), translations)
        translations.clear()


def _write_metadata(connection: Any, report: ImportReport) -> None:
    values = {
        "source": report.source,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "formats": ",".join(report.formats),
    }
    for key, value in values.items():
        statement = sqlite_insert(Metadata).values(key=key, value=value)
        connection.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"value": value}))
