"""sms: opt-outs per identity and medium (STOP / START keywords)

Revision ID: 0013_sms
Revises: 0012_messaging
Create Date: 2026-12-05 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import frontdesk.db

revision: str = "0013_sms"
down_revision: str | None = "0012_messaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("keyword", sa.String(length=40), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", frontdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_identity_opt_outs_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_opt_outs")),
        sa.UniqueConstraint(
            "identity_id", "scope", name=op.f("uq_identity_opt_outs_identity_id_scope")
        ),
    )


def downgrade() -> None:
    op.drop_table("identity_opt_outs")
