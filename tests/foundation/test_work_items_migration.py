"""Migration 0010: claims become work items, and duplicate model tags left by old races go."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from lorairo.database.engine import Database, head_revision
from tests.factories import add_image_row, make_image_file


def test_upgrade_keeps_one_row_per_model_tag_and_drops_the_claims(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path, migrate=False)
    old.upgrade("0009")
    image_id = add_image_row(old, make_image_file(tmp_path / "a.png"))
    with old.write_session() as session:
        session.execute(
            text("INSERT INTO models (id, name, type, created_at) VALUES (1, 'm', 'tagger', '2026-01-01')")
        )
        for tag, source, model in [("cat", "model", 1), ("cat", "model", 1), ("dog", "model", 1),
                                   ("cat", "manual", None), ("cat", "manual", None)]:  # fmt: skip
            session.execute(
                text(
                    "INSERT INTO tags (image_id, model_id, source, tag, category, is_accepted, position,"
                    " is_edited_manually, created_at, updated_at)"
                    " VALUES (:i, :m, :s, :t, 'general', 1, 0, 0, '2026-01-01', '2026-01-01')"
                ),
                {"i": image_id, "m": model, "s": source, "t": tag},
            )
        session.execute(
            text("INSERT INTO annotation_claims VALUES (:i, 1, 'old-run', 1e12)"), {"i": image_id}
        )
    old.close()

    reopened = Database(path)
    assert reopened.current_revision() == head_revision()
    with reopened.read_session() as session:
        rows = session.execute(text("SELECT id, source, tag FROM tags ORDER BY id")).all()
        tables = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'")))
    # The first of the duplicated model rows stays; manual rows are never touched.
    assert [(source, tag) for _, source, tag in rows] == [
        ("model", "cat"),
        ("model", "dog"),
        ("manual", "cat"),
        ("manual", "cat"),
    ]
    assert rows[0][0] == 1
    assert "annotation_claims" not in tables and {"work_items", "work_item_images", "workers"} <= tables
    reopened.close()
