"""admin: agent signatures, token prefixes and last use, invitations (tokens of kind
invite), customer notes, custom attribute definitions, and merge records for split

Revision ID: 0045_admin
Revises: 0044_webrtc
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0045_admin"
down_revision: str | None = "0044_webrtc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("signature", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("prefix", sa.String(20), nullable=False, server_default=""))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "customer_attribute_definitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(60), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("key", name="uq_customer_attribute_definitions_key"),
    )
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("merged_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("identity_ids", sa.JSON(), nullable=False),
        sa.Column("conversation_ids", sa.JSON(), nullable=False),
        sa.Column("redirected_ids", sa.JSON(), nullable=False),
        sa.Column("name_before", sa.String(300), nullable=True),
        sa.Column("attributes_before", sa.JSON(), nullable=False),
        sa.Column("by_agent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("split_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_customer_merges_customer_id", "customer_merges", ["customer_id"])
    op.create_index("ix_customer_merges_merged_id", "customer_merges", ["merged_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_merges_merged_id", table_name="customer_merges")
    op.drop_index("ix_customer_merges_customer_id", table_name="customer_merges")
    op.drop_table("customer_merges")
    op.drop_table("customer_attribute_definitions")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("notes")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("prefix")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("signature")
