"""The distinct tags of a project (case-insensitively), kept exact by triggers on `tags`.

A wildcard such as `tag:*_hair` is expanded to the exact tags it matches before the search runs,
so the search can seek the tag index. Finding those tags by walking the distinct values of
`ix_tags_search` costs one seek per distinct tag (~15 ms for 5k tags under 3M rows); LIKE over
this small table costs well under a millisecond. An entry may outlive its rows only until the
last row spelled that way (ignoring case) goes, and a stale entry would only expand to nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from lorairo.database.dialect import FOLD_FUNCTION
from lorairo.database.migration_ops import create_trigger, drop_trigger, is_postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


_PG_VOCABULARY = (
    # NOCASE primary key: a unique index on the folded tag (ON CONFLICT DO NOTHING honours it).
    "CREATE TABLE tag_vocabulary (tag text NOT NULL)",
    f"CREATE UNIQUE INDEX pk_tag_vocabulary ON tag_vocabulary ({FOLD_FUNCTION}(tag))",
    "INSERT INTO tag_vocabulary (tag) SELECT tag FROM tags ON CONFLICT DO NOTHING",
)
_PG_INSERT = "INSERT INTO tag_vocabulary (tag) VALUES (new.tag) ON CONFLICT DO NOTHING"
_PG_DELETE = (  # lorairo_fold = dialect.FOLD_FUNCTION, SQLite's NOCASE on PostgreSQL
    "DELETE FROM tag_vocabulary WHERE lorairo_fold(tag) = lorairo_fold(old.tag) "
    "AND NOT EXISTS (SELECT 1 FROM tags WHERE lorairo_fold(tags.tag) = lorairo_fold(old.tag))"
)


def upgrade() -> None:
    if is_postgresql():
        for statement in _PG_VOCABULARY:
            op.execute(statement)
        create_trigger("tag_vocabulary_insert", "AFTER INSERT", "tags", _PG_INSERT)
        create_trigger("tag_vocabulary_delete", "AFTER DELETE", "tags", _PG_DELETE)
        create_trigger("tag_vocabulary_update", "AFTER UPDATE OF tag", "tags", f"{_PG_INSERT}; {_PG_DELETE}")
        return
    op.execute("CREATE TABLE tag_vocabulary (tag TEXT COLLATE NOCASE PRIMARY KEY) WITHOUT ROWID")
    op.execute("INSERT OR IGNORE INTO tag_vocabulary (tag) SELECT tag FROM tags")
    op.execute(
        "CREATE TRIGGER tag_vocabulary_insert AFTER INSERT ON tags BEGIN "
        "INSERT OR IGNORE INTO tag_vocabulary (tag) VALUES (new.tag); END"
    )
    op.execute(
        "CREATE TRIGGER tag_vocabulary_delete AFTER DELETE ON tags BEGIN "
        "DELETE FROM tag_vocabulary WHERE tag = old.tag "
        "AND NOT EXISTS (SELECT 1 FROM tags WHERE tags.tag = old.tag COLLATE NOCASE); END"
    )
    op.execute(
        "CREATE TRIGGER tag_vocabulary_update AFTER UPDATE OF tag ON tags BEGIN "
        "INSERT OR IGNORE INTO tag_vocabulary (tag) VALUES (new.tag); "
        "DELETE FROM tag_vocabulary WHERE tag = old.tag "
        "AND NOT EXISTS (SELECT 1 FROM tags WHERE tags.tag = old.tag COLLATE NOCASE); END"
    )


def downgrade() -> None:
    for trigger in ("tag_vocabulary_insert", "tag_vocabulary_delete", "tag_vocabulary_update"):
        drop_trigger(trigger, "tags")
    op.execute("DROP TABLE IF EXISTS tag_vocabulary")
