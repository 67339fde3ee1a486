from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

# busy and after_call_work are set by the agent or by rules (a call in progress, wrap-up:
# routing/presence.py); only an available agent is offered new work.
PRESENCE_STATUSES = ("available", "busy", "away", "after_call_work", "offline")
# Who set an agent's presence last: the agent (or an admin, or logging out), or a rule.
SET_BY = ("agent", "rule")
# The channels whose work is a call: answering one makes the agent busy, its end starts
# after-call work (routing/presence.py). Each has its own after-call work limit.
CALL_CHANNELS = ("voice", "cti")
TIERS = ("L1", "L2", "L3")
# The channel of a back-office work item, for capacity ("back-office 2").
BACKOFFICE = "backoffice"
TASK_KINDS = ("conversation", "work_item")
# waiting → offered → assigned → wrapping → completed; canceled from any open state.
TASK_STATUSES = ("waiting", "offered", "assigned", "wrapping", "completed", "canceled")
OPEN_TASK_STATUSES = ("waiting", "offered", "assigned", "wrapping")


class AgentPresence(Base):
    """What an agent said about themselves (status) and when a desk socket last saw them.
    An agent not seen for a while counts as offline whatever the status says."""

    __tablename__ = "agent_presence"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), default="offline")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by: Mapped[str] = mapped_column(String(10), default="agent")
    # While a rule holds the status (busy on a call, after-call work): the status the agent
    # had chosen before, which the rule gives back. None once the agent chooses again.
    return_to: Mapped[str | None] = mapped_column(String(20))


class PresenceRule(Base):
    """The organisation's one presence rule (row id 1, made on first save; defaults until
    then): answering a call makes the agent busy, its end puts them in after-call work for at
    most `acw_seconds[channel]` (0: until they complete the wrap-up), then back."""

    __tablename__ = "routing_presence_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    acw_seconds: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkerProfile(Base):
    """An agent as a worker: what the routing expressions read (teams come from team
    membership), and which channels' offers are accepted without asking."""

    __tablename__ = "routing_workers"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # name → level 1..10
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    location: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(2), default="L1")
    auto_accept: Mapped[list[str]] = mapped_column(JSON, default=list)  # channels
    # Slots of the total kept for a channel: {"chat": 1} stops work items filling the last one.
    reserved: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # The longest idle agent is offered first.
    last_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AgentCapacity(Base):
    """How many tasks of one channel an agent holds at once, and how many they hold now.
    Channel "*" is the agent's total. Taking a slot is one conditional UPDATE
    (`active < capacity`), so no number of concurrent routers can overfill it."""

    __tablename__ = "routing_capacity"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(30), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[int] = mapped_column(Integer, default=0)


class RoutingQueue(Base):
    """A queue selects agents by an expression over agent attributes."""

    __tablename__ = "routing_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    agent_expression: Mapped[str] = mapped_column(Text, default="TRUE")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoutingPolicy(Base):
    """Tasks whose attributes match `task_expression` go through `targets` in order: each
    `{"queue_id", "agent_expression"?, "timeout_seconds"?, "priority_boost"?}`; a target's
    timeout moves a still-waiting task on to the next one. Lowest position matches first."""

    __tablename__ = "routing_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=100)
    task_expression: Mapped[str] = mapped_column(Text, default="TRUE")
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoutingTask(Base):
    """One unit of routable work: a conversation that needs a human or a back-office item."""

    __tablename__ = "routing_tasks"
    __table_args__ = (
        # Uses index: the pull query and the router walk waiting tasks of a queue in rank order.
        Index("ix_routing_tasks_queue_rank", "status", "queue_id", "rank_at", "id"),
        Index("ix_routing_tasks_assignee", "assignee_id", "status"),
        # Uses index: the staffing planner averages handle times of tasks completed in a window.
        Index("ix_routing_tasks_completed", "completed_at", "channel"),
        # At most one open task per conversation (NULL once it is closed).
        UniqueConstraint("open_conversation_id", name="uq_routing_tasks_open_conversation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="work_item")
    type: Mapped[str] = mapped_column(String(100), default="conversation")
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(30), default=BACKOFFICE)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    open_conversation_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    inbox_id: Mapped[int | None] = mapped_column(Integer)
    # language, topic, value, tier, vip, skills (required), last_agent_id (sticky), ...
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    base_priority: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The task's place in every list: earlier is served first (see routing.engine.rank_at).
    rank_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_policies.id", ondelete="SET NULL")
    )
    target_index: Mapped[int] = mapped_column(Integer, default=0)
    target_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queue_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_queues.id", ondelete="SET NULL")
    )
    agent_expression: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Accepted for the agent a person assigned the conversation to (not offered by routing).
    by_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether the holder's capacity counts this task (a slot was taken for it). A task
    # assigned by hand to an agent without room holds none: the person decided, and letting
    # it go must not free a slot another task holds.
    holds_slot: Mapped[bool] = mapped_column(Boolean, default=True)
    # Lifecycle, kept for metrics.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
