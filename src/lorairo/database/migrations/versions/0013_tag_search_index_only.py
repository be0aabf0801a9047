"""PostgreSQL: tag lookups become index-only scans that deliver image ids in order.

- `ix_tags_search` is on `lorairo_fold(tag)`. PostgreSQL's planner considers an index-only scan
  only when every column the query names is in the index, and it does not see that `tag` is
  needed only inside `lorairo_fold(tag)`; so every `tag:x` visited the heap (a bitmap heap scan
  reading nearly one page per matching row: 8.5 ms of a 10k-image count, 0.9 ms on SQLite).
  INCLUDE (tag) is PostgreSQL's documented remedy.
- `ix_tags_effective`: the same lookup for the tags that count (what `tag:x` asks), as a partial
  index on (lorairo_fold(tag), image_id). `rejected_at IS NULL` is no equality to the planner,
  so from `ix_tags_search` the ids come unsorted and each DISTINCT / ORDER BY image_id hashed
  and sorted them; from this index they come in id order (a count of 64k ids: 53 -> 23 ms).

SQLite's NOCASE index already covers the lookup and yields ids in order: nothing to do there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from lorairo.database.dialect import FOLD_FUNCTION

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = f"{FOLD_FUNCTION}(tag), is_accepted, rejected_at, removed_at, image_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_tags_search")
    op.execute(f"CREATE INDEX ix_tags_search ON tags ({_COLUMNS}) INCLUDE (tag)")
    op.execute(
        f"CREATE INDEX ix_tags_effective ON tags ({FOLD_FUNCTION}(tag), image_id) INCLUDE (tag) "
        "WHERE is_accepted AND rejected_at IS NULL AND removed_at IS NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_tags_effective")
    op.execute("DROP INDEX IF EXISTS ix_tags_search")
    op.execute(f"CREATE INDEX ix_tags_search ON tags ({_COLUMNS})")
