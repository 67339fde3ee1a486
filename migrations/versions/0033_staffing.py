"""staffing: indexes for the planner's windowed aggregates (new conversations by start time,
routed conversation tasks by completion time)

Revision ID: 0033_staffing
Revises: 0021_knowledge
Create Date: 2026-12-05 23:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0033_staffing"
down_revision: str | None = "0021_knowledge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_conversations_created_inbox", "conversations", ["created_at", "inbox_id"])
    op.create_index("ix_routing_tasks_completed", "routing_tasks", ["completed_at", "channel"])


def downgrade() -> None:
    op.drop_index("ix_routing_tasks_completed", table_name="routing_tasks")
    op.drop_index("ix_conversations_created_inbox", table_name="conversations")
