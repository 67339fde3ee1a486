"""analytics: coarser rollups (per tag; per inbox and tag; per team, agent and tag) so a
report's cost follows the period, not the number of conversations; filled from the hourly
rollups

Revision ID: 0050_metrics_growth
Revises: 0047_desk_search
Create Date: 2026-12-06 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0050_metrics_growth"
down_revision: str | None = "0047_desk_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = (
    "created", "messages_in", "messages_out", "first_responses", "frt_sum",
    "frt_b0", "frt_b1", "frt_b2", "frt_b3", "frt_b4", "frt_b5", "frt_b6",
    "resolved", "resolution_sum", "fcr", "reopened", "handle_sum", "open_now",
    "csat_count", "csat_positive", "ces_count", "ces_sum", "nps_count", "nps_promoters",
    "nps_detractors", "sla_met", "sla_breached",
    *(f"created_h{h:02d}" for h in range(24)),
    "frt_wall_sum", "resolution_wall_sum", "handle_wall_sum",
)  # fmt: skip
# table → (source, its key after tag_id and hour)
TABLES = {
    "analytics_hourly_tag": ("analytics_hourly", ()),
    "analytics_hourly_inbox": ("analytics_hourly", ("inbox_id", "channel")),
    "analytics_daily_tag": ("analytics_daily", ()),
    "analytics_daily_inbox": ("analytics_daily", ("inbox_id", "channel")),
    "analytics_daily_agent": ("analytics_daily", ("team_id", "agent_id")),
}


def _big() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _column(name: str) -> sa.Column[object]:
    if name == "hour":
        return sa.Column(name, sa.DateTime(timezone=True), nullable=False)
    if name == "channel":
        return sa.Column(name, sa.String(20), nullable=False)
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    for table, (source, rest) in TABLES.items():
        key = ("tag_id", "hour", *rest)
        op.create_table(
            table,
            *(_column(name) for name in key),
            *(sa.Column(name, _big(), nullable=False) for name in MEASURES),
            sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{table}")),
        )
        op.create_index(
            f"ix_{table}_open",
            table,
            ["tag_id", "hour"],
            postgresql_where=sa.text("open_now <> 0"),
            sqlite_where=sa.text("open_now <> 0"),
        )
        # The same sums as the rollups already hold (no backfill needed).
        columns = ", ".join(key)
        sums = ", ".join(f"sum({name})" for name in MEASURES)
        op.execute(
            f"INSERT INTO {table} ({columns}, {', '.join(MEASURES)}) "
            f"SELECT {columns}, {sums} FROM {source} GROUP BY {columns}"
        )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(f"ix_{table}_open", table_name=table)
        op.drop_table(table)
