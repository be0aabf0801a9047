"""Full-text index over captions (FTS5, kept in sync by triggers; on PostgreSQL a GIN index).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from lorairo.database.dialect import TS_CONFIG

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


_PG_INDEX = "ix_captions_fts"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX {_PG_INDEX} ON captions USING gin (to_tsvector('{TS_CONFIG}'::regconfig, caption))"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE captions_fts USING fts5("
        "caption, content='captions', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER captions_fts_insert AFTER INSERT ON captions BEGIN "
        "INSERT INTO captions_fts(rowid, caption) VALUES (new.id, new.caption); END"
    )
    op.execute(
        "CREATE TRIGGER captions_fts_delete AFTER DELETE ON captions BEGIN "
        "INSERT INTO captions_fts(captions_fts, rowid, caption) VALUES ('delete', old.id, old.caption); END"
    )
    op.execute(
        "CREATE TRIGGER captions_fts_update AFTER UPDATE OF caption ON captions BEGIN "
        "INSERT INTO captions_fts(captions_fts, rowid, caption) VALUES ('delete', old.id, old.caption); "
        "INSERT INTO captions_fts(rowid, caption) VALUES (new.id, new.caption); END"
    )
    op.execute("INSERT INTO captions_fts(captions_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {_PG_INDEX}")
        return
    for trigger in ("captions_fts_insert", "captions_fts_delete", "captions_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS captions_fts")
