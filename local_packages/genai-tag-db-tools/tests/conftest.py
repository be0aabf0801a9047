"""Small fixture files in each importer's real format, and tag databases built from them."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

from genai_tag_db_tools.db.database import TagDatabase
from genai_tag_db_tools.importers import import_records, read_file

TAGCOMPLETE_ROWS = [
    '1girl,0,5000000,"1girls,sole_female"',
    'long_hair,0,3000000,"longhair,/lh"',
    'grey_hair,0,400000,"gray_hair,Gray Hair"',
    'long_sleeves,0,900000,""',
    'hatsune_miku,4,100000,"miku"',
    'kantai_collection,3,800000,"kancolle"',
    "absurdres,5,2000000,",
    "^_^,0,50000,",
]
MALFORMED_ROW = "broken line without numbers,x,y,"


def write_tagcomplete(path: Path, rows: list[str] | None = None) -> Path:
    path.write_text("\n".join(rows or TAGCOMPLETE_ROWS) + "\n", encoding="utf-8")
    return path


def write_wd_selected_tags(path: Path) -> Path:
    path.write_text(
        "tag_id,name,category,count\n"
        "9999999,general,9,807659\n"
        "9999998,sensitive,9,3000000\n"
        "470575,1girl,0,4225150\n"
        "212816,solo,0,3538948\n"
        "16751,long_hair,0,2803947\n"
        "1305843,hatsune_miku,4,96203\n"
        "3,o_o,0,20000\n",
        encoding="utf-8",
    )
    return path


# The published genai-image-tag-db layout (TAGS, TAG_FORMATS, TAG_TYPE_NAME, ...).
GENAI_DDL = """
CREATE TABLE TAGS (tag_id INTEGER PRIMARY KEY, source_tag TEXT, tag TEXT UNIQUE,
                   created_at DATETIME, updated_at DATETIME);
CREATE TABLE TAG_FORMATS (format_id INTEGER PRIMARY KEY, format_name TEXT UNIQUE, description TEXT);
CREATE TABLE TAG_TYPE_NAME (type_name_id INTEGER PRIMARY KEY, type_name TEXT UNIQUE, description TEXT);
CREATE TABLE TAG_TYPE_FORMAT_MAPPING (format_id INTEGER, type_id INTEGER, type_name_id INTEGER,
                                      description TEXT, PRIMARY KEY (format_id, type_id));
CREATE TABLE TAG_STATUS (tag_id INTEGER, format_id INTEGER, type_id INTEGER, alias BOOLEAN NOT NULL,
                         preferred_tag_id INTEGER, deprecated BOOLEAN NOT NULL DEFAULT 0,
                         deprecated_at DATETIME, source_created_at DATETIME, created_at DATETIME,
                         updated_at DATETIME, PRIMARY KEY (tag_id, format_id));
CREATE TABLE TAG_TRANSLATIONS (translation_id INTEGER PRIMARY KEY, tag_id INTEGER, language TEXT,
                               translation TEXT, created_at DATETIME, updated_at DATETIME);
CREATE TABLE TAG_USAGE_COUNTS (tag_id INTEGER, format_id INTEGER, count INTEGER,
                               created_at DATETIME, updated_at DATETIME, PRIMARY KEY (tag_id, format_id));
CREATE TABLE DATABASE_METADATA (key TEXT PRIMARY KEY, value TEXT);
"""


def write_genai_sqlite(path: Path) -> Path:
    """Danbooru: witch hat, aliases, a deprecated tag with and one without replacement; e621 too."""
    connection = sqlite3.connect(path)
    connection.executescript(GENAI_DDL)
    connection.executemany(
        "INSERT INTO TAG_FORMATS VALUES (?, ?, NULL)", [(1, "danbooru"), (2, "e621"), (3, "derpibooru")]
    )
    connection.executemany(
        "INSERT INTO TAG_TYPE_NAME VALUES (?, ?, NULL)",
        [(0, "general"), (1, "artist"), (3, "copyright"), (4, "character"), (5, "meta"), (6, "species")],
    )
    connection.executemany(
        "INSERT INTO TAG_TYPE_FORMAT_MAPPING VALUES (?, ?, ?, NULL)",
        [(1, 0, 0), (1, 1, 1), (1, 3, 3), (1, 4, 4), (1, 5, 5), (2, 0, 0), (2, 5, 6), (3, 0, 0)],
    )
    tags = [
        (1, "witch_hat", "witch hat"),
        (2, "witches_hat", "witches hat"),
        (3, "cat", "cat"),
        (4, "old_style_tag", "old style tag"),
        (5, "new_style_tag", "new style tag"),
        (6, "obsolete_tag", "obsolete tag"),
        (7, "felis", "felis"),
        (8, "pony_only", "pony only"),
    ]
    connection.executemany("INSERT INTO TAGS (tag_id, source_tag, tag) VALUES (?, ?, ?)", tags)
    connection.executemany(
        "INSERT INTO TAG_STATUS (tag_id, format_id, type_id, alias, preferred_tag_id, deprecated) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, 1, 0, 0, 1, 0),
            (2, 1, 0, 1, 1, 0),
            (3, 1, 0, 0, 3, 0),
            (4, 1, 0, 1, 5, 1),
            (5, 1, 0, 0, 5, 0),
            (6, 1, 5, 0, 6, 1),
            (3, 2, 5, 0, 3, 0),
            (7, 2, 5, 1, 3, 0),
            (8, 3, 0, 0, 8, 0),
        ],
    )
    connection.executemany(
        "INSERT INTO TAG_USAGE_COUNTS (tag_id, format_id, count) VALUES (?, ?, ?)",
        [(1, 1, 60000), (3, 1, 200000), (5, 1, 1000), (6, 1, 10), (3, 2, 90000)],
    )
    connection.executemany(
        "INSERT INTO TAG_TRANSLATIONS (tag_id, language, translation) VALUES (?, ?, ?)",
        [(1, "ja", "魔女帽子"), (3, "ja", "猫"), (3, "ja", "ねこ")],
    )
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def tagcomplete_csv(tmp_path: Path) -> Path:
    return write_tagcomplete(tmp_path / "danbooru.csv")


@pytest.fixture
def broken_tagcomplete_csv(tmp_path: Path) -> Path:
    """The fixture rows plus one malformed line: 1 of 9 lines, far over the 1% an import accepts."""
    return write_tagcomplete(tmp_path / "broken.csv", [*TAGCOMPLETE_ROWS, MALFORMED_ROW])


@pytest.fixture
def wd_csv(tmp_path: Path) -> Path:
    return write_wd_selected_tags(tmp_path / "selected_tags.csv")


@pytest.fixture
def genai_sqlite(tmp_path: Path) -> Path:
    return write_genai_sqlite(tmp_path / "genai-image-tag-db-cc0.sqlite")


@pytest.fixture
def tag_db(tmp_path: Path) -> Iterator[TagDatabase]:
    database = TagDatabase(tmp_path / "tagdb")
    yield database
    database.close()


@pytest.fixture
def danbooru_db(tag_db: TagDatabase, tagcomplete_csv: Path) -> TagDatabase:
    import_records(tag_db, read_file(tagcomplete_csv, "tagcomplete"), source="danbooru.csv")
    return tag_db
