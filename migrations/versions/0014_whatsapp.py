"""whatsapp: the message templates of an inbox (what may be sent outside the reply window)

Revision ID: 0014_whatsapp
Revises: 0012_messaging
Create Date: 2026-12-05 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import frontdesk.db

revision: str = "0014_whatsapp"
down_revision: str | None = "0013_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("created_at", frontdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inboxes.id"],
            name=op.f("fk_inbox_templates_inbox_id_inboxes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_templates")),
        sa.UniqueConstraint(
            "inbox_id", "name", "language", name=op.f("uq_inbox_templates_inbox_id_name_language")
        ),
    )


def downgrade() -> None:
    op.drop_table("inbox_templates")
