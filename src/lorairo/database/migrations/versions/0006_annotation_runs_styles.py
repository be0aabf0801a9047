"""Per-run usage and caption styles: `annotation_runs` (tokens, requests, style of each run) and
`annotation_styles` (which style made each image's current result of a model, searchable).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_COUNTS = (
    "images_annotated",
    "failures",
    "requests",
    "retries",
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
)


def upgrade() -> None:
    op.create_table(
        "annotation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("style_name", sa.String(length=200), nullable=True),
        sa.Column("style_hash", sa.String(length=16), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_runs")),
    )
    op.create_index(op.f("ix_annotation_runs_model_name"), "annotation_runs", ["model_name"])
    op.create_table(
        "annotation_styles",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("style_name", sa.String(length=200), nullable=False),
        sa.Column("style_hash", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_annotation_styles_image_id_images"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_annotation_styles_model_id_models"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["annotation_runs.id"],
            name=op.f("fk_annotation_styles_run_id_annotation_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("image_id", "model_id", name=op.f("pk_annotation_styles")),
    )
    op.create_index("ix_annotation_styles_style", "annotation_styles", ["style_name", "style_hash"])


def downgrade() -> None:
    op.drop_table("annotation_styles")
    op.drop_table("annotation_runs")
