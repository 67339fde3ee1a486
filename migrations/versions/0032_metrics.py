"""analytics: conversation facts folded from the event log, hourly and daily rollups, the cursor

Revision ID: 0032_metrics
Revises: 0033_staffing (re-chained after merging charts; the merger re-chains)
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_metrics"
down_revision: str | None = "0033_staffing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = (
    "created", "messages_in", "messages_out", "first_responses", "frt_sum",
    "frt_b0", "frt_b1", "frt_b2", "frt_b3", "frt_b4", "frt_b5", "frt_b6",
    "resolved", "resolution_sum", "fcr", "reopened", "handle_sum", "open_now",
    "csat_count", "csat_positive", "ces_count", "ces_sum", "nps_count", "nps_promoters",
    "nps_detractors", "sla_met", "sla_breached",
    *(f"created_h{h:02d}" for h in range(24)),
)  # fmt: skip


def _big() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "analytics_cursors",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("sequence", _big(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "analytics_conversation_facts",
        sa.Column("conversation_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("tag_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("agent_replies", sa.Integer(), nullable=False),
        sa.Column("messages_in", sa.Integer(), nullable=False),
        sa.Column("messages_out", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("sla_met", sa.Integer(), nullable=False),
        sa.Column("sla_breached", sa.Integer(), nullable=False),
    )
    for table in ("analytics_hourly", "analytics_daily"):
        op.create_table(
            table,
            sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
            sa.Column("inbox_id", sa.Integer(), nullable=False),
            sa.Column("channel", sa.String(20), nullable=False),
            sa.Column("team_id", sa.Integer(), nullable=False),
            sa.Column("agent_id", sa.Integer(), nullable=False),
            sa.Column("tag_id", sa.Integer(), nullable=False),
            *(sa.Column(name, _big(), nullable=False) for name in MEASURES),
            sa.PrimaryKeyConstraint(
                "hour", "inbox_id", "channel", "team_id", "agent_id", "tag_id",
                name=op.f(f"pk_{table}"),
            ),
        )  # fmt: skip
        op.create_index(f"ix_{table}_tag_hour", table, ["tag_id", "hour"])
    # The backlog reads only the rows of conversations open now.
    op.create_index(
        "ix_analytics_hourly_open",
        "analytics_hourly",
        ["tag_id"],
        postgresql_where=sa.text("open_now <> 0"),
        sqlite_where=sa.text("open_now <> 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_hourly_open", table_name="analytics_hourly")
    for table in ("analytics_daily", "analytics_hourly"):
        op.drop_index(f"ix_{table}_tag_hour", table_name=table)
        op.drop_table(table)
    op.drop_table("analytics_conversation_facts")
    op.drop_table("analytics_cursors")
