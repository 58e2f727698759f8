"""pipeline runs and stage cache

Revision ID: pipeline_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "pipeline_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("config_digest", sa.String(length=64), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
    )
    op.create_index("ix_pipeline_runs_started", "pipeline_runs", ["started"])
    op.create_table(
        "pipeline_cache",
        sa.Column("stage", sa.String(length=200), primary_key=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pipeline_cache")
    op.drop_table("pipeline_runs")
