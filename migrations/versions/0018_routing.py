"""routing: workers (attributes, capacity per channel), queues, policies and the universal
task list

Revision ID: 0018_routing
Revises: 0015_meta
Create Date: 2026-12-05 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.db import UTCDateTime

revision: str = "0018_routing"
down_revision: str | None = "0015_meta"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_workers",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("tier", sa.String(length=2), nullable=False),
        sa.Column("auto_accept", sa.JSON(), nullable=False),
        sa.Column("reserved", sa.JSON(), nullable=False),
        sa.Column("last_offered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_routing_workers_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_routing_workers")),
    )  # fmt: skip
    op.create_table(
        "routing_capacity",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_routing_capacity_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "channel", name=op.f("pk_routing_capacity")),
    )  # fmt: skip
    op.create_table(
        "routing_queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("agent_expression", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_routing_queues_name")),
    )
    op.create_table(
        "routing_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("task_expression", sa.Text(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_routing_policies_name")),
    )
    _create_tasks()


def _create_tasks() -> None:
    op.create_table(
        "routing_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("open_conversation_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("base_priority", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("rank_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("target_index", sa.Integer(), nullable=False),
        sa.Column("target_started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=True),
        sa.Column("agent_expression", sa.Text(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("offer_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("rejected_by", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("offered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopened_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name=op.f("fk_routing_tasks_conversation_id_conversations"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_routing_tasks_customer_id_customers"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["routing_policies.id"],
            name=op.f("fk_routing_tasks_policy_id_routing_policies"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["routing_queues.id"],
            name=op.f("fk_routing_tasks_queue_id_routing_queues"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["agents.id"],
            name=op.f("fk_routing_tasks_assignee_id_agents"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_tasks")),
        sa.UniqueConstraint(
            "open_conversation_id", name="uq_routing_tasks_open_conversation"
        ),
    )  # fmt: skip
    op.create_index(
        "ix_routing_tasks_queue_rank", "routing_tasks", ["status", "queue_id", "rank_at", "id"]
    )
    op.create_index("ix_routing_tasks_assignee", "routing_tasks", ["assignee_id", "status"])
    op.create_index(op.f("ix_routing_tasks_conversation_id"), "routing_tasks", ["conversation_id"])
    op.create_index(op.f("ix_routing_tasks_customer_id"), "routing_tasks", ["customer_id"])


def downgrade() -> None:
    op.drop_table("routing_tasks")
    op.drop_table("routing_policies")
    op.drop_table("routing_queues")
    op.drop_table("routing_capacity")
    op.drop_table("routing_workers")
