"""messaging foundation: provider message ids on messages, the notices (statuses, edits)
kept until their message gets that id, and the Telegram channel's polling state

Revision ID: 0012_messaging
Revises: 0007_blob_references
Create Date: 2026-12-05 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import frontdesk.db

revision: str = "0012_messaging"
down_revision: str | None = "0007_blob_references"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("provider_message_id", sa.String(length=300), nullable=True))
        batch.create_index("ix_messages_provider", ["inbox_id", "provider_message_id"])
    op.create_table(
        "pending_provider_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", frontdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inboxes.id"],
            name=op.f("fk_pending_provider_updates_inbox_id_inboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_provider_updates")),
    )
    op.create_index(
        "ix_pending_provider_updates_key",
        "pending_provider_updates",
        ["inbox_id", "provider_message_id"],
    )
    op.create_index(
        op.f("ix_pending_provider_updates_created_at"),
        "pending_provider_updates",
        ["created_at"],
    )
    op.create_table(
        "telegram_polls",
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", frontdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inboxes.id"],
            name=op.f("fk_telegram_polls_inbox_id_inboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("inbox_id", name=op.f("pk_telegram_polls")),
    )


def downgrade() -> None:
    op.drop_table("telegram_polls")
    op.drop_index(
        op.f("ix_pending_provider_updates_created_at"), table_name="pending_provider_updates"
    )
    op.drop_index("ix_pending_provider_updates_key", table_name="pending_provider_updates")
    op.drop_table("pending_provider_updates")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_provider")
        batch.drop_column("provider_message_id")
