"""Presence: agents say available / away / offline; desk sockets keep `last_seen_at` fresh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.kit.errors import Invalid
from frontdesk.kit.events import record
from frontdesk.routing import repository
from frontdesk.routing.models import PRESENCE_STATUSES, AgentPresence

# A desk socket beats every 30 s; two missed beats and the agent counts as offline.
STALE_AFTER = timedelta(seconds=75)


@dataclass
class Presence:
    agent_id: int
    status: str  # what the agent chose
    effective: str  # what customers and supervisors see (offline when not seen lately)


async def _row(session: AsyncSession, agent: Agent) -> AgentPresence:
    row = await repository.get_presence(session, agent.id)
    if row is None:
        row = AgentPresence(agent_id=agent.id, status="offline", changed_at=utcnow())
        session.add(row)
        await session.flush()
    return row


async def set_status(session: AsyncSession, agent: Agent, status: str) -> AgentPresence:
    """Change what the agent says about themselves (available / away / offline)."""
    if status not in PRESENCE_STATUSES:
        raise Invalid(f"presence must be one of {', '.join(PRESENCE_STATUSES)}", code="invalid")
    row = await _row(session, agent)
    if row.status != status:
        row.status = status
        row.changed_at = utcnow()
        record(session, "presence.changed", {"agent_id": agent.id, "status": status})
    row.last_seen_at = utcnow()
    await session.flush()
    return row


async def seen(session: AsyncSession, agent: Agent) -> None:
    """A heartbeat from an open desk: the agent is at their desk."""
    row = await _row(session, agent)
    row.last_seen_at = utcnow()
    await session.flush()


def effective(row: AgentPresence | None) -> str:
    if row is None:
        return "offline"
    if row.status != "offline" and row.last_seen_at < utcnow() - STALE_AFTER:
        return "offline"
    return row.status


async def of(session: AsyncSession, agent: Agent) -> Presence:
    row = await repository.get_presence(session, agent.id)
    return Presence(agent.id, row.status if row else "offline", effective(row))


async def all_presence(session: AsyncSession) -> dict[int, Presence]:
    return {
        row.agent_id: Presence(row.agent_id, row.status, effective(row))
        for row in await repository.list_presence(session)
    }


async def inbox_has_agent_online(session: AsyncSession, inbox_id: int) -> bool:
    """Whether a visitor on this inbox can expect an answer now."""
    return await repository.any_available_for_inbox(
        session, inbox_id, seen_after=utcnow() - STALE_AFTER
    )
