"""identity profiles: the name and picture a provider gives for a channel id (Messenger,
Instagram), cached on the identity

Revision ID: 0015_meta
Revises: 0012_messaging
Create Date: 2026-12-05 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_meta"
down_revision: str | None = "0014_whatsapp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("picture_url", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("picture_url")
        batch.drop_column("name")
