"""desk: saved views, macros and workspace preferences (time zone, notifications)

Revision ID: 0046_workspace
Revises: 0045_admin
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0046_workspace"
down_revision: str | None = "0045_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.String(1000), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_saved_views_owner_id", "saved_views", ["owner_id"])
    op.create_table(
        "macros",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="CASCADE")),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20)),
        sa.Column("priority", sa.String(20)),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("assign", sa.String(20), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_macros_owner_id", "macros", ["owner_id"])
    op.create_table(
        "workspace_preferences",
        sa.Column(
            "agent_id",
            sa.Integer(),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("notify", sa.JSON(), nullable=False),
        sa.Column("sound", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workspace_preferences")
    op.drop_index("ix_macros_owner_id", table_name="macros")
    op.drop_table("macros")
    op.drop_index("ix_saved_views_owner_id", table_name="saved_views")
    op.drop_table("saved_views")
