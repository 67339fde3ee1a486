"""analytics: business-time durations per SLA calendar (with the wall clock kept), agent
occupancy per hour, the daily rollups' backlog index

Revision ID: 0041_metrics
Revises: 0038_kb_gaps
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041_metrics"
down_revision: str | None = "0038_kb_gaps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WALL = ("frt_wall_sum", "resolution_wall_sum", "handle_wall_sum")
BUSINESS = ("frt_business", "resolution_business", "handle_business")


def _big() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("analytics_conversation_facts") as batch:
        batch.add_column(sa.Column("calendar_id", sa.Integer(), nullable=False,
                                   server_default="0"))  # fmt: skip
        for name in BUSINESS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
    for table in ("analytics_hourly", "analytics_daily"):
        with op.batch_alter_table(table) as batch:
            for name in WALL:
                batch.add_column(sa.Column(name, _big(), nullable=False, server_default="0"))
    # The backlog: the oldest open conversation's hour straight from the index.
    op.drop_index("ix_analytics_hourly_open", table_name="analytics_hourly")
    op.create_index(
        "ix_analytics_hourly_open",
        "analytics_hourly",
        ["tag_id", "hour"],
        postgresql_where=sa.text("open_now <> 0"),
        sqlite_where=sa.text("open_now <> 0"),
    )
    op.create_index(
        "ix_analytics_daily_open",
        "analytics_daily",
        ["tag_id", "hour"],
        postgresql_where=sa.text("open_now <> 0"),
        sqlite_where=sa.text("open_now <> 0"),
    )
    op.create_table(
        "analytics_agent_state",
        sa.Column("agent_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("task_ids", sa.JSON(), nullable=False),
    )
    op.create_table(
        "analytics_agent_hourly",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("staffed_seconds", _big(), nullable=False),
        sa.Column("handling_seconds", _big(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "agent_id", name=op.f("pk_analytics_agent_hourly")),
    )
    # Until a backfill recomputes them, the stored sums are the wall clock on both sides.
    for table in ("analytics_hourly", "analytics_daily"):
        op.execute(
            f"UPDATE {table} SET frt_wall_sum = frt_sum, resolution_wall_sum = resolution_sum, "
            "handle_wall_sum = handle_sum"
        )


def downgrade() -> None:
    op.drop_table("analytics_agent_hourly")
    op.drop_table("analytics_agent_state")
    op.drop_index("ix_analytics_daily_open", table_name="analytics_daily")
    op.drop_index("ix_analytics_hourly_open", table_name="analytics_hourly")
    op.create_index(
        "ix_analytics_hourly_open",
        "analytics_hourly",
        ["tag_id"],
        postgresql_where=sa.text("open_now <> 0"),
        sqlite_where=sa.text("open_now <> 0"),
    )
    for table in ("analytics_daily", "analytics_hourly"):
        with op.batch_alter_table(table) as batch:
            for name in WALL:
                batch.drop_column(name)
    with op.batch_alter_table("analytics_conversation_facts") as batch:
        for name in (*BUSINESS, "calendar_id"):
            batch.drop_column(name)
