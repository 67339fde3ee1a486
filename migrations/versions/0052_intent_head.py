"""knowledge: the trained intent head per embedder (kb_intent_models)

Revision ID: 0052_intent_head
Revises: 0050_metrics_growth
Create Date: 2026-12-06 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0052_intent_head"
down_revision: str | None = "0050_metrics_growth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_intent_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("embedder", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("embedder", name="uq_kb_intent_models_embedder"),
    )


def downgrade() -> None:
    op.drop_table("kb_intent_models")
