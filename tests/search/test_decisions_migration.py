"""Upgrading a 0005 database (decisions stored on model rows) to 0006 keeps every decision: a
rejection, a removal and a drag-made order, written the way the 0005 edit service wrote them
(row snapshots in the edit log). After the upgrade a re-run cannot undo them, and undoing the
edits made before the upgrade still works, even after the re-run."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select, text

from image_annotator_lib.core.types import TagPrediction
from lorairo.database.annotation_repository import save_model_tags
from lorairo.database.engine import SCHEMA_HEAD, Database
from lorairo.database.schema import Tag, TagDecision
from lorairo.services.edit_service import EditService
from lorairo.services.project_service import Project
from lorairo.services.search_service import SearchService
from tests.factories import add_image_row, make_image_file

T0 = "2026-02-01T10:00:00"
T1 = "2026-02-02T10:00:00"
# The model gave a, b, c, d in that order; the person removed d, ordered c before a, rejected b.
BEFORE = {"a": 0, "b": 1, "c": 2, "d": 3}
AFTER = {"c": 0, "a": 1, "b": 2, "d": 3}


def _row(row_id: int, tag: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": row_id,
        "image_id": 1,
        "model_id": 1,
        "source": "model",
        "tag": tag,
        "raw_tag": tag,
        "category": "general",
        "confidence": 0.9,
        "is_accepted": True,
        "position": BEFORE[tag],
        "is_edited_manually": False,
        "rejected_at": None,
        "created_at": T0,
        "updated_at": T0,
    }
    row.update(values)
    return row


def _old_database(tmp_path: Path) -> Path:
    """A 0005 project database as the 0005 code left it after three edits."""
    path = tmp_path / "project" / "database.db"
    old = Database(path, migrate=False)
    old.upgrade("0005")
    assert add_image_row(old, make_image_file(tmp_path / "a.png", (32, 24))) == 1
    ids = {tag: n for n, tag in enumerate(BEFORE, start=1)}
    edits = [
        ("remove_tags", [("d", {}, {"is_accepted": False, "is_edited_manually": True, "updated_at": T1})]),
        (
            "reorder_tags",
            [
                (tag, {}, {"position": AFTER[tag], "is_edited_manually": True, "updated_at": T1})
                for tag in ("c", "a", "b")
            ],
        ),
        ("reject_tags", [("b", {"position": 2, "is_edited_manually": True}, {"rejected_at": T1})]),
    ]
    with old.write_session() as session:
        session.execute(
            text("INSERT INTO models (id, name, type, created_at) VALUES (1, 'tagger', 'tagger', :t)"),
            {"t": T0},
        )
        current = {tag: _row(ids[tag], tag) for tag in BEFORE}
        for edit_id, (operation, changes) in enumerate(edits, start=1):
            session.execute(
                text(
                    "INSERT INTO edit_log (id, operation, description, parameters, affected_images, created_at) "
                    "VALUES (:i, :o, :o, '{}', 1, :t)"
                ),
                {"i": edit_id, "o": operation, "t": T1},
            )
            for tag, base, change in changes:
                before = {**current[tag], **base}
                after = {**before, **change}
                current[tag] = after
                session.execute(
                    text(
                        "INSERT INTO edit_changes (edit_id, table_name, row_id, action, before, after) "
                        "VALUES (:e, 'tags', :r, 'update', :b, :a)"
                    ),
                    {"e": edit_id, "r": ids[tag], "b": json.dumps(before), "a": json.dumps(after)},
                )
        for row in current.values():
            columns = ", ".join(row)
            session.execute(
                text(f"INSERT INTO tags ({columns}) VALUES ({', '.join(':' + k for k in row)})"), row
            )
    old.close()
    return path


def _tags(project: Project) -> tuple[list[str], list[int], list[int]]:
    search = SearchService(project)
    return search.summaries([1])[0].tags, search.search("tag:b").ids, search.search("rejected:b").ids


def test_upgrade_keeps_rejection_removal_and_order_and_old_edits_stay_undoable(tmp_path: Path) -> None:
    path = _old_database(tmp_path)
    project = Project("old", path.parent, Database(path))
    assert project.database.current_revision() == SCHEMA_HEAD  # 0006, or a later head
    with project.database.read_session() as session:
        decisions = {
            d.tag: (d.rejected_at is not None, d.removed_at is not None, d.position)
            for d in session.scalars(select(TagDecision))
        }
        accepted = {tag: value for tag, value in session.execute(select(Tag.tag, Tag.is_accepted))}
    assert decisions == {
        "a": (False, False, 1),
        "b": (True, False, 2),
        "c": (False, False, 0),
        "d": (False, True, 3),
    }
    assert accepted["d"] is True, "the removal is the decision now; the row keeps the model's acceptance"
    assert _tags(project) == (["c", "a"], [], [1])

    with project.database.write_session() as session:  # the same model again, as --all would
        predictions = [TagPrediction(tag, 0.8) for tag in BEFORE]
        save_model_tags(session, 1, [(1, predictions)])
    assert _tags(project) == (["c", "a"], [], [1])

    service = EditService(project)
    assert service.undo().operation == "reject_tags"
    assert _tags(project) == (["c", "a", "b"], [1], [])
    assert service.undo().operation == "reorder_tags"
    assert _tags(project)[0] == ["a", "b", "c"]
    assert service.undo().operation == "remove_tags"
    assert _tags(project)[0] == ["a", "b", "c", "d"]
    for _ in range(3):
        service.redo()
    assert _tags(project) == (["c", "a"], [], [1])
    project.close()


def test_downgrade_folds_decisions_back_onto_the_rows(tmp_path: Path) -> None:
    from alembic import command

    from lorairo.database.engine import alembic_config

    path = _old_database(tmp_path)
    database = Database(path)
    with database._write_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0006")
    with database.read_session() as session:
        rows = {
            tag: (bool(accepted), rejected is not None)
            for tag, accepted, rejected in session.execute(
                text("SELECT tag, is_accepted, rejected_at FROM tags")
            )
        }
    assert rows == {"a": (True, False), "b": (True, True), "c": (True, False), "d": (False, False)}
    database.close()
