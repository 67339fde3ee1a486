"""routing: presence set by rules (busy on a call, after-call work, back), the presence rule's
settings, and tasks assigned by hand (accepted by the agent picked, holding a slot or not)

Revision ID: 0053_presence_rules
Revises: 0052_intent_head
Create Date: 2026-12-06 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0053_presence_rules"
down_revision: str | None = "0052_intent_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agent_presence") as batch:
        batch.add_column(sa.Column("set_by", sa.String(10), nullable=False, server_default="agent"))
        batch.add_column(sa.Column("return_to", sa.String(20), nullable=True))
    with op.batch_alter_table("routing_tasks") as batch:
        batch.add_column(
            sa.Column("by_hand", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("holds_slot", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "routing_presence_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("acw_seconds", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("routing_presence_rules")
    with op.batch_alter_table("routing_tasks") as batch:
        batch.drop_column("holds_slot")
        batch.drop_column("by_hand")
    with op.batch_alter_table("agent_presence") as batch:
        batch.drop_column("return_to")
        batch.drop_column("set_by")
