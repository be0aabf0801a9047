"""Work items replace annotation claims: one queue for plain runs and distributed workers.

`annotation_claims` (0009) leased single (image, model) pairs to concurrent `annotate run`s.
`work_items` lease whole batches, which is what workers on several machines claim (`SELECT ...
FOR UPDATE SKIP LOCKED` on PostgreSQL, under `BEGIN IMMEDIATE` on SQLite); `work_item_images`
keeps an image in at most one open item per model. `workers` holds heartbeats and throughput,
`store_changes` the change feed's counter. A partial unique index makes a model's tags unique per
image, so a batch stored twice is stored once (duplicates left by earlier races are removed first).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_MODEL_ROWS = sa.text("source = 'model'")


def upgrade() -> None:
    op.drop_index("ix_annotation_claims_owner", "annotation_claims")
    op.drop_table("annotation_claims")  # leases only: nothing of the user's is lost
    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job", sa.String(128), nullable=False),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("owner", sa.String(128)),
        sa.Column("lease_expires_at", sa.Float),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
    )
    op.create_index("ix_work_items_job", "work_items", ["job"])
    op.create_index("ix_work_items_owner", "work_items", ["owner"])
    op.create_index("ix_work_items_model_state", "work_items", ["model_id", "state", "id"])
    op.create_table(
        "work_item_images",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "work_item_id", sa.Integer, sa.ForeignKey("work_items.id", ondelete="CASCADE"), nullable=False
        ),
    )
    op.create_index("ix_work_item_images_work_item_id", "work_item_images", ["work_item_id"])
    op.create_table(
        "workers",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("heartbeat_at", sa.Float, nullable=False),
        sa.Column("batches_done", sa.Integer, nullable=False),
        sa.Column("images_done", sa.Integer, nullable=False),
        sa.Column("stopped", sa.Boolean, nullable=False),
    )
    store_changes = op.create_table(
        "store_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(store_changes, [{"id": 1, "version": 0}])
    tags = sa.table("tags", sa.column("id"), sa.column("model_id"), sa.column("image_id"), sa.column("tag"))
    keep = (
        sa.select(sa.func.min(tags.c.id))
        .where(_MODEL_ROWS)
        .group_by(tags.c.model_id, tags.c.image_id, tags.c.tag)
    )
    op.execute(tags.delete().where(_MODEL_ROWS, tags.c.model_id.is_not(None), tags.c.id.not_in(keep)))
    op.create_index(
        "ux_tags_model_image_tag",
        "tags",
        ["model_id", "image_id", "tag"],
        unique=True,
        sqlite_where=_MODEL_ROWS,
        postgresql_where=_MODEL_ROWS,
    )


def downgrade() -> None:
    op.drop_index("ux_tags_model_image_tag", "tags")
    op.drop_table("store_changes")
    op.drop_table("workers")
    op.drop_index("ix_work_item_images_work_item_id", "work_item_images")
    op.drop_table("work_item_images")
    op.drop_index("ix_work_items_model_state", "work_items")
    op.drop_index("ix_work_items_owner", "work_items")
    op.drop_index("ix_work_items_job", "work_items")
    op.drop_table("work_items")
    op.create_table(
        "annotation_claims",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_annotation_claims_owner", "annotation_claims", ["owner"])
