"""webchat: the chunks of browser calls' recordings, kept until they are assembled

Revision ID: 0044_webrtc
Revises: 0043_cti
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0044_webrtc"
down_revision: str | None = "0043_cti"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_recording_chunks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey(
                "messages.id",
                ondelete="CASCADE",
                name="fk_call_recording_chunks_message_id_messages",
            ),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("blob_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "message_id", "seq", name="uq_call_recording_chunks_message_id_seq"
        ),
    )
    op.create_index(
        "ix_call_recording_chunks_blob_key", "call_recording_chunks", ["blob_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_call_recording_chunks_blob_key", table_name="call_recording_chunks")
    op.drop_table("call_recording_chunks")
