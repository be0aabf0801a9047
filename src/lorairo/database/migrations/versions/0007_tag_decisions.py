"""User decisions live apart from model output: `tag_decisions`, keyed by (image, tag).

Why a decisions table and not decision columns that a re-run carries over:
- A re-run deletes a model's rows and inserts new ones (a new id each). Edit-log snapshots name
  rows by id, so an undo of a reject recorded against the old row would find nothing ("1 rows",
  no effect). A decision row is never touched by a model run, so its id, and every undo and redo
  recorded against it, stays exact for ever.
- A decision is about the tag on the image, not about one model's row: a second model that later
  proposes a rejected tag must not bring it back. Carried-over columns would need the carry-over
  in every writer (re-run, replace, import, a model's deletion); a table keyed by (image, tag)
  needs none.
- Manual tags, captions, scores and ratings already are rows of their own (`source = 'manual'`)
  that no model run deletes, and the reviewed mark is on `images`; only what was stored *on model
  rows* moves here: rejection, removal of a model tag, and manual order (`position`).

Search keeps its index ranges: `tags.rejected_at` and the new `tags.removed_at` become read-only
mirrors of the decision, kept exact by triggers (the 0004 pattern), so `effective_tag()` stays a
condition on the tag row and `ix_tags_search` still covers it.

Scores and ratings: `is_effective` now marks exactly one row per (image, kind) / image, the manual
row if any, else the newest model row, so the value sorted on, filtered on, shown and exported is
one and the same (before, every model row was "effective" and readers each picked their own).

Upgrading keeps what users decided: rejected rows become rejections; model rows un-accepted by a
live (not undone) edit become removals (their model acceptance restored from the snapshot); images
with a live reorder get their current order as manual positions. Old edit-log changes of those
columns on tag rows are rewritten onto the decision rows, so undoing an edit made before the
upgrade still works after any re-run.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from lorairo.database.dialect import FOLD_FUNCTION
from lorairo.database.migration_ops import create_trigger, drop_trigger, is_postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_MIRROR_ROW = (
    "UPDATE tags SET "
    "rejected_at = (SELECT d.rejected_at FROM tag_decisions AS d "
    "WHERE d.image_id = new.image_id AND d.tag = new.tag), "
    "removed_at = (SELECT d.removed_at FROM tag_decisions AS d "
    "WHERE d.image_id = new.image_id AND d.tag = new.tag) "
    "WHERE id = new.id"
)
_HAS_DECISION = (
    "EXISTS (SELECT 1 FROM tag_decisions AS d WHERE d.image_id = new.image_id AND d.tag = new.tag)"
)
_MIRROR_DECISION = (
    "UPDATE tags SET rejected_at = new.rejected_at, removed_at = new.removed_at "
    "WHERE image_id = new.image_id AND +tag = new.tag COLLATE NOCASE"
)
_CLEAR_DECISION = (
    "UPDATE tags SET rejected_at = NULL, removed_at = NULL "
    "WHERE image_id = old.image_id AND +tag = old.tag COLLATE NOCASE"
)
SCORES_RECOMPUTE = (
    "UPDATE scores SET is_effective = (id = (SELECT m.id FROM scores AS m "
    "WHERE m.image_id = scores.image_id AND m.kind = scores.kind "
    "ORDER BY m.source = 'manual' DESC, m.id DESC LIMIT 1))"
)
RATINGS_RECOMPUTE = (
    "UPDATE ratings SET is_effective = (id = (SELECT m.id FROM ratings AS m "
    "WHERE m.image_id = ratings.image_id ORDER BY m.source = 'manual' DESC, m.id DESC LIMIT 1))"
)
_OLD_TRIGGERS = (
    "scores_effective_insert",
    "scores_effective_delete",
    "scores_effective_update",
    "ratings_effective_insert",
    "ratings_effective_delete",
    "ratings_effective_update",
)
_EFFECTIVE_TRIGGERS = (
    SCORES_RECOMPUTE,
    "CREATE TRIGGER scores_effective_insert AFTER INSERT ON scores BEGIN "
    + SCORES_RECOMPUTE
    + " WHERE image_id = new.image_id AND kind = new.kind; END",
    "CREATE TRIGGER scores_effective_delete AFTER DELETE ON scores BEGIN "
    + SCORES_RECOMPUTE
    + " WHERE image_id = old.image_id AND kind = old.kind; END",
    "CREATE TRIGGER scores_effective_update AFTER UPDATE OF image_id, kind, source ON scores BEGIN "
    + SCORES_RECOMPUTE
    + " WHERE (image_id = old.image_id AND kind = old.kind) OR (image_id = new.image_id AND kind = new.kind);"
    " END",
    RATINGS_RECOMPUTE,
    "CREATE TRIGGER ratings_effective_insert AFTER INSERT ON ratings BEGIN "
    + RATINGS_RECOMPUTE
    + " WHERE image_id = new.image_id; END",
    "CREATE TRIGGER ratings_effective_delete AFTER DELETE ON ratings BEGIN "
    + RATINGS_RECOMPUTE
    + " WHERE image_id = old.image_id; END",
    "CREATE TRIGGER ratings_effective_update AFTER UPDATE OF image_id, source ON ratings BEGIN "
    + RATINGS_RECOMPUTE
    + " WHERE image_id IN (old.image_id, new.image_id); END",
)
_DECISION_TRIGGERS = (
    # A new tag row (any model run, any manual add) takes the decision already made for its tag.
    "CREATE TRIGGER tags_decision_insert AFTER INSERT ON tags WHEN "
    + _HAS_DECISION
    + " BEGIN "
    + _MIRROR_ROW
    + "; END",
    "CREATE TRIGGER tags_decision_retag AFTER UPDATE OF image_id, tag ON tags BEGIN " + _MIRROR_ROW + "; END",
    "CREATE TRIGGER tag_decisions_insert AFTER INSERT ON tag_decisions BEGIN " + _MIRROR_DECISION + "; END",
    "CREATE TRIGGER tag_decisions_update AFTER UPDATE ON tag_decisions BEGIN "
    + _CLEAR_DECISION
    + "; "
    + _MIRROR_DECISION
    + "; END",
    "CREATE TRIGGER tag_decisions_delete AFTER DELETE ON tag_decisions BEGIN " + _CLEAR_DECISION + "; END",
)


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _decision_id(
    connection: sa.Connection, cache: dict[tuple[int, str], int], image_id: int, tag: str
) -> int:
    """The decision row of (image, tag), created empty when the image has none yet."""
    key = (image_id, tag.casefold())
    if key not in cache:
        found = connection.execute(
            sa.text("SELECT id FROM tag_decisions WHERE image_id = :i AND tag = :t"),
            {"i": image_id, "t": tag},
        ).scalar()
        if found is None:
            found = connection.execute(
                sa.text(
                    "INSERT INTO tag_decisions (image_id, tag, created_at, updated_at) "
                    "VALUES (:i, :t, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"i": image_id, "t": tag},
            ).scalar_one()
        cache[key] = int(found)
    return cache[key]


def _decision_fields(row: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """A tag-row snapshot's decision columns, where it differs from the other side of the change."""
    fields: dict[str, Any] = {}
    if row.get("rejected_at") != other.get("rejected_at"):
        fields["rejected_at"] = row.get("rejected_at")
    if row.get("source") != "manual" and bool(row.get("is_accepted")) != bool(other.get("is_accepted")):
        fields["removed_at"] = None if row.get("is_accepted") else row.get("updated_at")
    if row.get("position") != other.get("position"):
        fields["position"] = row.get("position")
    return fields


def _rewrite_edit_log(connection: sa.Connection) -> tuple[set[int], set[int]]:
    """Move decision changes recorded on tag rows onto decision rows; returns the tag rows a live
    edit removed, and the images a live reorder touched."""
    removed_rows: set[int] = set()
    reordered: set[int] = set()
    cache: dict[tuple[int, str], int] = {}
    changes = connection.execute(
        sa.text(
            "SELECT c.id, c.row_id, c.before, c.after, l.undone_at IS NULL, l.operation "
            "FROM edit_changes AS c JOIN edit_log AS l ON l.id = c.edit_id "
            "WHERE c.table_name = 'tags' AND c.action = 'update' ORDER BY c.id"
        )
    ).all()
    for change_id, row_id, before_text, after_text, live, operation in changes:
        before, after = json.loads(before_text), json.loads(after_text)
        old, new = _decision_fields(before, after), _decision_fields(after, before)
        if not old and not new:
            continue
        if live and "removed_at" in new and new["removed_at"] is not None:
            removed_rows.add(row_id)
        if live and operation == "reorder_tags":
            reordered.add(int(after["image_id"]))
        decision = _decision_id(connection, cache, int(after["image_id"]), str(after["tag"]))
        connection.execute(
            sa.text(
                "UPDATE edit_changes SET table_name = 'tag_decisions', row_id = :d, before = :b, after = :a "
                "WHERE id = :c"
            ),
            {
                "d": decision,
                "b": json.dumps({"id": decision, **old}),
                "a": json.dumps({"id": decision, **new}),
                "c": change_id,
            },
        )
    return removed_rows, reordered


def _carry_decisions(connection: sa.Connection, removed_rows: set[int], reordered: set[int]) -> None:
    """Today's state of every decision, which the edit-log rewrite may have created empty."""
    connection.execute(
        sa.text(
            "INSERT INTO tag_decisions (image_id, tag, created_at, updated_at) "
            "SELECT DISTINCT image_id, tag, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM tags AS t "
            "WHERE (rejected_at IS NOT NULL OR image_id IN (SELECT value FROM json_each(:images))) "
            "AND NOT EXISTS (SELECT 1 FROM tag_decisions AS d WHERE d.image_id = t.image_id AND d.tag = t.tag)"
        ),
        {"images": json.dumps(sorted(reordered))},
    )
    connection.execute(
        sa.text(
            "UPDATE tag_decisions SET rejected_at = (SELECT MIN(t.rejected_at) FROM tags AS t "
            "WHERE t.image_id = tag_decisions.image_id AND +t.tag = tag_decisions.tag COLLATE NOCASE)"
        )
    )
    removed: dict[tuple[int, str], Any] = {}
    for row_id in sorted(removed_rows):
        row = connection.execute(
            sa.text("SELECT image_id, tag, updated_at, is_accepted FROM tags WHERE id = :r"), {"r": row_id}
        ).first()
        if row is not None and not row[3]:
            removed[(row[0], row[1])] = row[2]
    for (image_id, tag), when in removed.items():
        connection.execute(
            sa.text("UPDATE tag_decisions SET removed_at = :w WHERE image_id = :i AND tag = :t"),
            {"w": when, "i": image_id, "t": tag},
        )
    if removed_rows:
        # The removal is the decision now; the row keeps the model's own acceptance.
        connection.execute(
            sa.text("UPDATE tags SET is_accepted = 1 WHERE id IN (SELECT value FROM json_each(:rows))"),
            {"rows": json.dumps(sorted(removed_rows))},
        )
    ranks: dict[int, list[str]] = defaultdict(list)
    for image_id, tag in connection.execute(
        sa.text(
            "SELECT image_id, tag FROM tags WHERE image_id IN (SELECT value FROM json_each(:images)) "
            "GROUP BY image_id, tag COLLATE NOCASE ORDER BY image_id, MIN(position), MIN(id)"
        ),
        {"images": json.dumps(sorted(reordered))},
    ):
        ranks[image_id].append(tag)
    for image_id, tags in ranks.items():
        for position, tag in enumerate(tags):
            connection.execute(
                sa.text("UPDATE tag_decisions SET position = :p WHERE image_id = :i AND tag = :t"),
                {"p": position, "i": image_id, "t": tag},
            )


# lorairo_fold = dialect.FOLD_FUNCTION, SQLite's NOCASE on PostgreSQL.
_PG_MIRROR_ROW = (
    "UPDATE tags SET "
    "rejected_at = (SELECT d.rejected_at FROM tag_decisions AS d "
    "WHERE d.image_id = new.image_id AND lorairo_fold(d.tag) = lorairo_fold(new.tag)), "
    "removed_at = (SELECT d.removed_at FROM tag_decisions AS d "
    "WHERE d.image_id = new.image_id AND lorairo_fold(d.tag) = lorairo_fold(new.tag)) "
    "WHERE id = new.id"
)
_PG_HAS_DECISION = (
    "EXISTS (SELECT 1 FROM tag_decisions AS d "
    "WHERE d.image_id = new.image_id AND lorairo_fold(d.tag) = lorairo_fold(new.tag))"
)
_PG_MIRROR_DECISION = (
    "UPDATE tags SET rejected_at = new.rejected_at, removed_at = new.removed_at "
    "WHERE image_id = new.image_id AND lorairo_fold(tag) = lorairo_fold(new.tag)"
)
_PG_CLEAR_DECISION = (
    "UPDATE tags SET rejected_at = NULL, removed_at = NULL "
    "WHERE image_id = old.image_id AND lorairo_fold(tag) = lorairo_fold(old.tag)"
)
# (name, event, table, body) of the PL/pgSQL forms of _DECISION_TRIGGERS and _EFFECTIVE_TRIGGERS.
_PG_DECISION_TRIGGERS = (
    ("tags_decision_insert", "AFTER INSERT", "tags", f"IF {_PG_HAS_DECISION} THEN {_PG_MIRROR_ROW}; END IF"),
    ("tags_decision_retag", "AFTER UPDATE OF image_id, tag", "tags", _PG_MIRROR_ROW),
    ("tag_decisions_insert", "AFTER INSERT", "tag_decisions", _PG_MIRROR_DECISION),
    ("tag_decisions_update", "AFTER UPDATE", "tag_decisions", f"{_PG_CLEAR_DECISION}; {_PG_MIRROR_DECISION}"),
    ("tag_decisions_delete", "AFTER DELETE", "tag_decisions", _PG_CLEAR_DECISION),
)
_PG_EFFECTIVE_TRIGGERS = (
    (
        "scores_effective_insert",
        "AFTER INSERT",
        "scores",
        SCORES_RECOMPUTE + " WHERE image_id = new.image_id AND kind = new.kind",
    ),
    (
        "scores_effective_delete",
        "AFTER DELETE",
        "scores",
        SCORES_RECOMPUTE + " WHERE image_id = old.image_id AND kind = old.kind",
    ),
    (
        "scores_effective_update",
        "AFTER UPDATE OF image_id, kind, source",
        "scores",
        SCORES_RECOMPUTE
        + " WHERE (image_id = old.image_id AND kind = old.kind) OR (image_id = new.image_id AND kind = new.kind)",
    ),
    (
        "ratings_effective_insert",
        "AFTER INSERT",
        "ratings",
        RATINGS_RECOMPUTE + " WHERE image_id = new.image_id",
    ),
    (
        "ratings_effective_delete",
        "AFTER DELETE",
        "ratings",
        RATINGS_RECOMPUTE + " WHERE image_id = old.image_id",
    ),
    (
        "ratings_effective_update",
        "AFTER UPDATE OF image_id, source",
        "ratings",
        RATINGS_RECOMPUTE + " WHERE image_id IN (old.image_id, new.image_id)",
    ),
)


def _create_decisions_table() -> None:
    postgresql = is_postgresql()
    op.create_table(
        "tag_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("images.id", ondelete="CASCADE", name="fk_tag_decisions_image_id_images"),
            nullable=False,
        ),
        sa.Column("tag", sa.Text() if postgresql else sa.Text(collation="NOCASE"), nullable=False),
        sa.Column("rejected_at", sa.DateTime()),
        sa.Column("removed_at", sa.DateTime()),
        sa.Column("position", sa.Integer()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        *(
            []
            if postgresql
            else [sa.UniqueConstraint("image_id", "tag", name="uq_tag_decisions_image_id_tag")]
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tag_decisions"),
    )
    if postgresql:  # unique per image ignoring case, as the NOCASE column is on SQLite
        op.execute(
            f"CREATE UNIQUE INDEX uq_tag_decisions_image_id_tag ON tag_decisions (image_id, {FOLD_FUNCTION}(tag))"
        )


def _upgrade_postgresql() -> None:
    """A PostgreSQL project starts empty at 0001 (`project migrate` copies rows in at the head), so
    there is nothing to carry over here: only the schema, indexes and triggers."""
    _create_decisions_table()
    op.add_column("tags", sa.Column("removed_at", sa.DateTime()))
    op.execute("DROP INDEX IF EXISTS ix_tags_search")
    op.execute(
        f"CREATE INDEX ix_tags_search ON tags ({FOLD_FUNCTION}(tag), is_accepted, rejected_at, removed_at, image_id)"
    )
    for trigger in _PG_DECISION_TRIGGERS:
        create_trigger(*trigger)
    for name, _event, table, _body in _PG_EFFECTIVE_TRIGGERS:
        drop_trigger(name, table)
    op.execute(SCORES_RECOMPUTE)
    op.execute(RATINGS_RECOMPUTE)
    for trigger in _PG_EFFECTIVE_TRIGGERS:
        create_trigger(*trigger)


def upgrade() -> None:
    if is_postgresql():
        _upgrade_postgresql()
        return
    _create_decisions_table()
    with op.batch_alter_table("tags", recreate="never") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime()))
    connection = op.get_bind()
    removed_rows, reordered = _rewrite_edit_log(connection)
    _carry_decisions(connection, removed_rows, reordered)
    op.execute("DROP INDEX IF EXISTS ix_tags_search")
    op.execute(
        "CREATE INDEX ix_tags_search ON tags (tag COLLATE NOCASE, is_accepted, rejected_at, removed_at, image_id)"
    )
    op.execute(
        "UPDATE tags SET rejected_at = d.rejected_at, removed_at = d.removed_at FROM tag_decisions AS d "
        "WHERE d.image_id = tags.image_id AND d.tag = tags.tag"
    )
    for statement in _DECISION_TRIGGERS:
        op.execute(statement)
    for trigger in _OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in _EFFECTIVE_TRIGGERS:
        op.execute(statement)


_OLD_EFFECTIVE = (
    "UPDATE scores SET is_effective = (source = 'manual' OR NOT EXISTS (SELECT 1 FROM scores AS m "
    "WHERE m.image_id = scores.image_id AND m.kind = scores.kind AND m.source = 'manual'))",
    "UPDATE ratings SET is_effective = (source = 'manual' OR NOT EXISTS (SELECT 1 FROM ratings AS m "
    "WHERE m.image_id = ratings.image_id AND m.source = 'manual'))",
)


def downgrade() -> None:
    """Back to 0006 (0005's tag model): decisions folded onto the tag rows again; manual order is dropped."""
    if is_postgresql():
        raise NotImplementedError("downgrading a PostgreSQL project below 0007 is not supported")
    scores, ratings = _OLD_EFFECTIVE
    for statement in _EFFECTIVE_TRIGGERS:
        if statement.startswith("CREATE TRIGGER"):
            name = statement.split()[2]
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(statement.replace(SCORES_RECOMPUTE, scores).replace(RATINGS_RECOMPUTE, ratings))
    op.execute(scores)
    op.execute(ratings)
    op.execute("UPDATE tags SET is_accepted = 0, is_edited_manually = 1 WHERE removed_at IS NOT NULL")
    for trigger in (
        "tags_decision_insert",
        "tags_decision_retag",
        "tag_decisions_insert",
        "tag_decisions_update",
        "tag_decisions_delete",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP INDEX IF EXISTS ix_tags_search")
    op.execute("CREATE INDEX ix_tags_search ON tags (tag COLLATE NOCASE, is_accepted, rejected_at, image_id)")
    with op.batch_alter_table("tags", recreate="never") as batch:
        batch.drop_column("removed_at")
    op.drop_table("tag_decisions")
