"""sentiment: a label and score on each inbound message, a trend and a frustrated flag on
each conversation, and the one rule that raises a frustrated conversation's priority

Revision ID: 0031_sentiment
Revises: 0021_knowledge
Create Date: 2026-12-05 23:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_sentiment"
down_revision: str | None = "0034_voice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("sentiment", sa.String(10), nullable=True))
        batch.add_column(sa.Column("sentiment_score", sa.Float(), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("sentiment_trend", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("frustrated", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "sentiment_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("raise_priority", sa.Boolean(), nullable=False),
        sa.Column("raise_to", sa.String(20), nullable=False),
        sa.Column("frustrated_below", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sentiment_rules")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("frustrated")
        batch.drop_column("sentiment_trend")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sentiment_score")
        batch.drop_column("sentiment")
