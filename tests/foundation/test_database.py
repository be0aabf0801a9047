"""The project store: migrations on open, upgrade of older databases, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, text

from lorairo.database.engine import SCHEMA_HEAD, Database, head_revision
from lorairo.database.schema import Caption, Image, Tag
from lorairo.services.configuration_service import ConfigurationService
from lorairo.services.project_service import ProjectService
from tests.factories import add_image_row, make_image_file


def test_schema_head_constant_matches_the_migration_scripts() -> None:
    assert head_revision() == SCHEMA_HEAD, "update SCHEMA_HEAD in lorairo/database/engine.py"


def test_new_database_is_at_head_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database(tmp_path / "p" / "database.db")
    assert database.current_revision() == head_revision()
    with database.read_session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    tables = {row[0] for row in sqlite3.connect(database.path).execute("SELECT name FROM sqlite_master")}
    for name in (
        "images",
        "processed_images",
        "models",
        "tags",
        "captions",
        "scores",
        "ratings",
        "annotation_failures",
    ):
        assert name in tables


def test_older_database_is_upgraded_on_open_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path, migrate=False)
    old.upgrade("0001")
    assert old.current_revision() == "0001"
    image_id = add_image_row(old, make_image_file(tmp_path / "a.png"))
    with old.write_session() as session:
        session.add(Caption(image_id=image_id, caption="a woman in a red dress"))
    old.close()
    assert "captions_fts" not in {
        r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")
    }

    reopened = Database(path)
    assert reopened.current_revision() == head_revision()
    with reopened.read_session() as session:
        hits = session.execute(
            text("SELECT rowid FROM captions_fts WHERE captions_fts MATCH :q"), {"q": '"red dress"'}
        )
        assert [row[0] for row in hits] == [1]
        assert session.scalar(select(func.count()).select_from(Image)) == 1


def test_deleting_an_image_cascades_to_its_annotations(tmp_path: Path) -> None:
    database = Database(tmp_path / "db.db")
    image_id = add_image_row(database, make_image_file(tmp_path / "a.png"))
    with database.write_session() as session:
        session.add(Tag(image_id=image_id, tag="1girl", source="manual"))
    with database.write_session() as session:
        session.delete(session.get(Image, image_id))
    with database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 0


WRITER = """
import sys
from pathlib import Path
from sqlalchemy import func, select
from lorairo.database.engine import Database
from lorairo.database.schema import Tag

database = Database(Path(sys.argv[1]))
for index in range(int(sys.argv[3])):
    with database.write_session() as session:
        # read-then-write in one transaction: the pattern that fails without BEGIN IMMEDIATE
        session.scalar(select(func.count()).select_from(Tag))
        session.add(Tag(image_id=1, tag=f"w{sys.argv[2]}-{index}", source="manual"))
"""


def test_two_processes_write_to_one_project_at_once(tmp_path: Path) -> None:
    project = ProjectService(ConfigurationService()).create("shared")
    add_image_row(project.database, make_image_file(tmp_path / "a.png"))
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(project.database_path), str(n), "150"])
        for n in range(2)
    ]
    # this process reads while the others write, as the GUI would
    for _ in range(50):
        with project.database.read_session() as session:
            session.scalar(select(func.count()).select_from(Tag))
    for process in workers:
        assert process.wait(120) == 0
    with project.database.read_session() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 300
