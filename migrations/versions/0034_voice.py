"""voice: messages.kind (a call is a message of kind "call"), the voice channel's calls and
its quarantine of unreadable webhooks

Revision ID: 0034_voice
Revises: 0021_knowledge
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import frontdesk.db

revision: str = "0034_voice"
down_revision: str | None = "0036_desk_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=10), server_default="message", nullable=False)
        )
    op.create_table(
        "voice_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=True),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", frontdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", frontdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", frontdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recording_sid", sa.String(length=64), nullable=True),
        sa.Column("created_at", frontdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inboxes.id"],
            name=op.f("fk_voice_calls_inbox_id_inboxes"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"],
            name=op.f("fk_voice_calls_message_id_messages"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_calls")),
        sa.UniqueConstraint("inbox_id", "call_sid", name=op.f("uq_voice_calls_inbox_id_call_sid")),
    )  # fmt: skip
    op.create_index(
        "ix_voice_calls_queue", "voice_calls", ["inbox_id", "queue_id", "state", "enqueued_at"]
    )
    op.create_table(
        "voice_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", frontdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inboxes.id"],
            name=op.f("fk_voice_quarantine_inbox_id_inboxes"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_quarantine")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_voice_quarantine_inbox_id"), "voice_quarantine", ["inbox_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_voice_quarantine_inbox_id"), table_name="voice_quarantine")
    op.drop_table("voice_quarantine")
    op.drop_index("ix_voice_calls_queue", table_name="voice_calls")
    op.drop_table("voice_calls")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("kind")
