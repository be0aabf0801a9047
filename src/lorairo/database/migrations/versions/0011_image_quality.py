"""Image quality measures: one row per image (sharpness, blur, brightness, contrast, border,
letterbox, JPEG quality), written at registration and backfilled by `lorairo images quality`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_quality",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sharpness", sa.Float, nullable=True),
        sa.Column("blur", sa.Float, nullable=True),
        sa.Column("brightness", sa.Float, nullable=False),
        sa.Column("contrast", sa.Float, nullable=False),
        sa.Column("border", sa.Float, nullable=False),
        sa.Column("letterbox", sa.Boolean, nullable=False),
        sa.Column("jpeg_quality", sa.Integer, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_image_quality_blur", "image_quality", ["blur"])
    op.create_index("ix_image_quality_brightness", "image_quality", ["brightness"])


def downgrade() -> None:
    op.drop_index("ix_image_quality_brightness", "image_quality")
    op.drop_index("ix_image_quality_blur", "image_quality")
    op.drop_table("image_quality")
