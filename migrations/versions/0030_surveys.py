"""surveys: per-inbox survey settings and the surveys asked (CSAT, CES, NPS) with their answers

Revision ID: 0030_surveys
Revises: 0021_knowledge
Create Date: 2026-12-05 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_surveys"
down_revision: str | None = "0035_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_configs",
        sa.Column(
            "inbox_id",
            sa.Integer(),
            sa.ForeignKey("inboxes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("trigger", sa.String(10), nullable=False),
        sa.Column("delay_hours", sa.Integer(), nullable=False),
        sa.Column("sample_percent", sa.Integer(), nullable=False),
        sa.Column("dedupe_days", sa.Integer(), nullable=False),
        sa.Column("expiry_hours", sa.Integer(), nullable=False),
        sa.Column("low_threshold", sa.Integer(), nullable=True),
        sa.Column(
            "alert_agent_id",
            sa.Integer(),
            sa.ForeignKey("agents.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "inbox_id",
            sa.Integer(),
            sa.ForeignKey("inboxes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_via", sa.String(10), nullable=True),
        sa.Column("low", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("conversation_id", name="uq_surveys_conversation_id"),
    )
    op.create_index("ix_surveys_customer_sent", "surveys", ["customer_id", "sent_at"])
    op.create_index("ix_surveys_inbox_answered", "surveys", ["inbox_id", "answered_at"])
    op.create_index("ix_surveys_status", "surveys", ["status"])


def downgrade() -> None:
    op.drop_index("ix_surveys_status", table_name="surveys")
    op.drop_index("ix_surveys_inbox_answered", table_name="surveys")
    op.drop_index("ix_surveys_customer_sent", table_name="surveys")
    op.drop_table("surveys")
    op.drop_table("survey_configs")
