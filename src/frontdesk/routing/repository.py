"""All SQL about agent presence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent, TeamMember
from frontdesk.conversations.models import Conversation
from frontdesk.inboxes.models import InboxTeam
from frontdesk.routing.models import AgentPresence


async def get_presence(session: AsyncSession, agent_id: int) -> AgentPresence | None:
    return await session.get(AgentPresence, agent_id)


async def list_presence(session: AsyncSession) -> Sequence[AgentPresence]:
    return (await session.scalars(select(AgentPresence))).all()


async def any_available_for_inbox(
    session: AsyncSession, inbox_id: int, *, seen_after: datetime
) -> bool:
    """Whether an agent who serves the inbox (or sees everything) is available right now."""
    serving = (
        select(TeamMember.agent_id)
        .join(InboxTeam, InboxTeam.team_id == TeamMember.team_id)
        .where(InboxTeam.inbox_id == inbox_id)
    )
    found = await session.scalar(
        select(AgentPresence.agent_id)
        .join(Agent, Agent.id == AgentPresence.agent_id)
        .where(
            AgentPresence.status == "available",
            AgentPresence.last_seen_at > seen_after,
            Agent.active.is_(True),
            (Agent.id.in_(serving)) | (Agent.role.in_(("admin", "supervisor"))),
        )
        .limit(1)
    )
    return found is not None


async def open_conversation_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.is_not(None), Conversation.status.in_(("open", "pending")))
        .group_by(Conversation.assignee_id)
    )
    return {int(agent_id): int(n) for agent_id, n in rows.all() if agent_id is not None}


async def open_conversations_of(
    session: AsyncSession, agent_id: int, limit: int = 20
) -> Sequence[Conversation]:
    return (
        await session.scalars(
            select(Conversation)
            .where(
                Conversation.assignee_id == agent_id, Conversation.status.in_(("open", "pending"))
            )
            .order_by(Conversation.id.desc())
            .limit(limit)
        )
    ).all()
