"""Image embeddings and image-level export rejections.

`image_embeddings` holds one float16 vector per image and embedding model (the truth any
similarity index is rebuilt from); `export_rejections` records a person's decision to
leave an image out of exports (e.g. the duplicates "keep best"), written through the edit log.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_embeddings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dimensions", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("image_id", "model_id", name="uq_image_embeddings_image_id_model_id"),
        sqlite_autoincrement=True,  # row ids are never reused: index caches key on them
    )
    op.create_index("ix_image_embeddings_model_id", "image_embeddings", ["model_id", "id"])
    op.create_table(
        "export_rejections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("rejected_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("image_id", name="uq_export_rejections_image_id"),
    )


def downgrade() -> None:
    op.drop_table("export_rejections")
    op.drop_index("ix_image_embeddings_model_id", "image_embeddings")
    op.drop_table("image_embeddings")
