"""The published genai-image-tag-db SQLite files (TAGS, TAG_STATUS, TAG_FORMATS, ...).

Read-only, streamed in chunks. Only the Danbooru and e621 formats are imported. Older releases
lack `TAG_STATUS.deprecated`, so the column is read only when present.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DatabaseError

from genai_tag_db_tools.db.builder import Record, TagRecord, TranslationRecord
from genai_tag_db_tools.db.database import TagDatabaseError
from genai_tag_db_tools.db.schema import FORMATS

_CHUNK = 5_000
_REQUIRED_TABLES = {
    "TAGS",
    "TAG_STATUS",
    "TAG_FORMATS",
    "TAG_TYPE_NAME",
    "TAG_TYPE_FORMAT_MAPPING",
    "TAG_USAGE_COUNTS",
    "TAG_TRANSLATIONS",
}
_COLUMNS = """
    SELECT t.tag, f.format_name, coalesce(tn.type_name, 'general') AS type_name,
           p.tag AS preferred, coalesce(u.count, 0) AS usage_count"""
_WITH_DEPRECATED = ", s.deprecated AS deprecated"
_WITHOUT_DEPRECATED = ", 0 AS deprecated"
_FROM = """
    FROM TAG_STATUS s
    JOIN TAGS t ON t.tag_id = s.tag_id
    JOIN TAG_FORMATS f ON f.format_id = s.format_id
    LEFT JOIN TAG_TYPE_FORMAT_MAPPING m ON m.format_id = s.format_id AND m.type_id = s.type_id
    LEFT JOIN TAG_TYPE_NAME tn ON tn.type_name_id = m.type_name_id
    LEFT JOIN TAGS p ON p.tag_id = s.preferred_tag_id AND s.preferred_tag_id != s.tag_id
    LEFT JOIN TAG_USAGE_COUNTS u ON u.tag_id = s.tag_id AND u.format_id = s.format_id
    WHERE lower(f.format_name) IN (SELECT value FROM json_each(:formats))
"""
_TRANSLATIONS = """
    SELECT t.tag, tr.language, tr.translation FROM TAG_TRANSLATIONS tr JOIN TAGS t ON t.tag_id = tr.tag_id
    WHERE tr.translation IS NOT NULL AND tr.language IS NOT NULL
"""


def read_genai_sqlite(path: Path) -> Iterator[Record]:
    engine = create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
    try:
        try:
            inspector = inspect(engine)
            missing = _REQUIRED_TABLES - set(inspector.get_table_names())
        except DatabaseError as exc:
            raise TagDatabaseError(f"{path} is not a readable SQLite file: {exc.orig}") from exc
        if missing:
            raise TagDatabaseError(
                f"{path} is not a genai-image-tag-db file (missing {', '.join(sorted(missing))})"
            )
        columns = {column["name"].lower() for column in inspector.get_columns("TAG_STATUS")}
        status = _COLUMNS + (_WITH_DEPRECATED if "deprecated" in columns else _WITHOUT_DEPRECATED) + _FROM
        formats = json.dumps(list(FORMATS))
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(
                text(status), {"formats": formats}
            )
            for chunk in result.partitions(_CHUNK):
                for row in chunk:
                    yield TagRecord(
                        row.tag,
                        format=row.format_name.lower(),
                        type=row.type_name,
                        usage_count=row.usage_count,
                        preferred=row.preferred,
                        deprecated=bool(row.deprecated),
                    )
            result = connection.execution_options(stream_results=True).execute(text(_TRANSLATIONS))
            for chunk in result.partitions(_CHUNK):
                for row in chunk:
                    yield TranslationRecord(row.tag, row.language, row.translation)
    finally:
        engine.dispose()
