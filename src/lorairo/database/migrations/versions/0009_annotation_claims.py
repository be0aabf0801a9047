"""Annotation claims: which run is working on which image for which model, until when.

Two `annotate run`s on one project and model would otherwise both pick every image not yet
annotated. A run claims a page before decoding it and renews its lease each page; images
another live run holds are skipped, and a run killed outright loses its claims when they expire.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotation_claims",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_annotation_claims_owner", "annotation_claims", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_annotation_claims_owner", "annotation_claims")
    op.drop_table("annotation_claims")
