"""knowledge: content gaps (searches and questions with no good answer, counted per day)

Revision ID: 0038_kb_gaps
Revises: 0031_sentiment
Create Date: 2026-12-06 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038_kb_gaps"
down_revision: str | None = "0031_sentiment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_gaps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("example", sa.String(300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("day", "source", "language", "key", name="uq_kb_gaps_day_key"),
    )
    op.create_index("ix_kb_gaps_last_seen", "kb_gaps", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_kb_gaps_last_seen", table_name="kb_gaps")
    op.drop_table("kb_gaps")
