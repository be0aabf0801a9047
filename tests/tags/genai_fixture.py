"""A three-tag file in the published genai-image-tag-db layout, for install tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def write_genai_sqlite(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE TAGS (tag_id INTEGER PRIMARY KEY, source_tag TEXT, tag TEXT UNIQUE);
        CREATE TABLE TAG_FORMATS (format_id INTEGER PRIMARY KEY, format_name TEXT UNIQUE, description TEXT);
        CREATE TABLE TAG_TYPE_NAME (type_name_id INTEGER PRIMARY KEY, type_name TEXT UNIQUE, description TEXT);
        CREATE TABLE TAG_TYPE_FORMAT_MAPPING (format_id INTEGER, type_id INTEGER, type_name_id INTEGER,
                                              description TEXT, PRIMARY KEY (format_id, type_id));
        CREATE TABLE TAG_STATUS (tag_id INTEGER, format_id INTEGER, type_id INTEGER, alias BOOLEAN NOT NULL,
                                 preferred_tag_id INTEGER, PRIMARY KEY (tag_id, format_id));
        CREATE TABLE TAG_TRANSLATIONS (translation_id INTEGER PRIMARY KEY, tag_id INTEGER, language TEXT,
                                       translation TEXT);
        CREATE TABLE TAG_USAGE_COUNTS (tag_id INTEGER, format_id INTEGER, count INTEGER,
                                       PRIMARY KEY (tag_id, format_id));
        INSERT INTO TAG_FORMATS VALUES (1, 'danbooru', NULL);
        INSERT INTO TAG_TYPE_NAME VALUES (0, 'general', NULL);
        INSERT INTO TAG_TYPE_FORMAT_MAPPING VALUES (1, 0, 0, NULL);
        INSERT INTO TAGS VALUES (1, 'witch_hat', 'witch hat'), (2, 'witches_hat', 'witches hat'), (3, 'cat', 'cat');
        INSERT INTO TAG_STATUS VALUES (1, 1, 0, 0, 1), (2, 1, 0, 1, 1), (3, 1, 0, 0, 3);
        INSERT INTO TAG_USAGE_COUNTS VALUES (1, 1, 60000), (3, 1, 200000);
        """
    )
    connection.commit()
    connection.close()
    return path
