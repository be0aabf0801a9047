"""Search index: case-insensitive tag lookups that never touch the tags table.

`tag:x` compares with COLLATE NOCASE and filters on is_accepted/rejected_at, so the existing
BINARY (tag, image_id) index cannot serve it; this one covers the whole lookup.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from lorairo.database.dialect import FOLD_FUNCTION

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_tags_search ON tags ({FOLD_FUNCTION}(tag), is_accepted, rejected_at, image_id)"
        )
        return
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_tags_search "
        "ON tags (tag COLLATE NOCASE, is_accepted, rejected_at, image_id)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_tags_search")
