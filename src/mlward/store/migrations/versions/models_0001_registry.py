"""model registry tables

Revision ID: models_0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "models_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("registered_models.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("framework", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=60), nullable=False),
        sa.Column("artifact_name", sa.String(length=300), nullable=False),
        sa.Column("is_directory", sa.Boolean(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("root_digest", sa.String(length=64), nullable=False),
        sa.Column("signature_digest", sa.String(length=64), nullable=False),
        sa.Column("signing_key", sa.String(length=32), nullable=False),
        sa.Column("scan", sa.JSON(), nullable=False),
        sa.Column("scan_max_severity", sa.String(length=10), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("accepted_risk", sa.JSON(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_version"),
    )
    op.create_index("ix_model_versions_model_id", "model_versions", ["model_id"])
    op.create_index("ix_model_versions_stage", "model_versions", ["stage"])
    op.create_index("ix_model_versions_root_digest", "model_versions", ["root_digest"])


def downgrade() -> None:
    op.drop_table("model_versions")
    op.drop_table("registered_models")
