"""Presence: agents say available / away / offline; desk sockets keep `last_seen_at` fresh.
The presence rule changes it for them around calls: answering one makes the agent busy, its
end puts them in after-call work, and completing the wrap-up (or the channel's after-call work
limit) gives back the status they had chosen. A status the agent chooses meanwhile wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.kit import jobs
from frontdesk.kit.errors import Invalid
from frontdesk.kit.events import record
from frontdesk.routing import repository
from frontdesk.routing.models import (
    CALL_CHANNELS,
    PRESENCE_STATUSES,
    AgentPresence,
    PresenceRule,
)
from frontdesk.routing.schemas import PresenceRuleRead, PresenceRuleUpdate

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
        record(session, "presence.changed", {"agent_id": agent.id, "status": status, "by": "agent"})
    # The agent's own choice, even of the status a rule had set: no rule gives it back.
    row.set_by, row.return_to = "agent", None
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
    return presence_of(agent.id, await repository.get_presence(session, agent.id))


def presence_of(agent_id: int, row: AgentPresence | None) -> Presence:
    """An agent's Presence from their presence row (none: offline)."""
    return Presence(agent_id, row.status if row else "offline", effective(row))


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


# The presence rule (docs/routing.md, Presence rules)

RULE_ID = 1
# After-call work a call channel allows before the agent is back, unless an admin sets it.
DEFAULT_ACW_SECONDS = 30
ACW_END_JOB = "routing.after_call_work_ends"


def _limits(found: dict[str, int] | None) -> dict[str, int]:
    return {
        channel: int((found or {}).get(channel, DEFAULT_ACW_SECONDS)) for channel in CALL_CHANNELS
    }


async def rule(session: AsyncSession) -> PresenceRule:
    """The organisation's rule, or the defaults (off) while none was saved (not added)."""
    found = await repository.get_presence_rule(session)
    if found is not None:
        return found
    return PresenceRule(id=RULE_ID, enabled=False, acw_seconds=_limits(None), updated_at=utcnow())


def read_rule(found: PresenceRule) -> PresenceRuleRead:
    return PresenceRuleRead(enabled=bool(found.enabled), acw_seconds=_limits(found.acw_seconds))


async def update_rule(
    session: AsyncSession, data: PresenceRuleUpdate, *, by: Agent | None
) -> PresenceRule:
    """Switch the rule on or off and set after-call work limits (made on first save)."""
    found = await repository.get_presence_rule(session)
    if found is None:
        found = PresenceRule(id=RULE_ID, enabled=False, acw_seconds=_limits(None))
        session.add(found)
    if data.enabled is not None:
        found.enabled = data.enabled
    if data.acw_seconds is not None:
        changed = {str(channel): seconds for channel, seconds in data.acw_seconds.items()}
        found.acw_seconds = {**_limits(found.acw_seconds), **changed}
    found.updated_at = utcnow()
    await session.flush()
    payload = {**read_rule(found).model_dump(), "by": by.id if by else None}
    record(session, "routing.presence_rule_changed", payload)
    return found


def _by_rule(
    session: AsyncSession, row: AgentPresence, status: str, *, back: str | None, reason: str
) -> None:
    """The rule sets `status`, keeping what to give back; recorded like the agent's own
    change (presence history, the desktop's control, the supervisor's board)."""
    row.status, row.set_by, row.return_to, row.changed_at = status, "rule", back, utcnow()
    payload = {"agent_id": row.agent_id, "status": status, "by": "rule", "reason": reason}
    record(session, "presence.changed", payload)


async def _applies(session: AsyncSession, channel: str | None) -> PresenceRule | None:
    if channel not in CALL_CHANNELS:
        return None
    current = await rule(session)
    return current if current.enabled else None


async def call_started(
    session: AsyncSession, agent_id: int, *, channel: str | None, reason: str
) -> bool:
    """Rule: an agent who answers a call (or takes a call's task) is busy. Only an available
    agent, or one the rule holds already, is moved: a status chosen by hand (away, offline,
    busy) stays. Answers whether the agent is busy by the rule now."""
    if await _applies(session, channel) is None:
        return False
    row = await repository.get_presence(session, agent_id, lock=True)
    if row is None:
        return False
    if row.set_by == "rule":
        if row.status != "busy":
            _by_rule(session, row, "busy", back=row.return_to, reason=reason)
    elif row.status == "available":
        _by_rule(session, row, "busy", back="available", reason=reason)
    else:
        return False
    await session.flush()
    return True


async def call_ended(
    session: AsyncSession, agent_id: int, *, channel: str | None, reason: str
) -> None:
    """Rule: the call is over (or its task is being wrapped up): after-call work, for at most
    the channel's limit (0: until the agent completes the wrap-up)."""
    current = await _applies(session, channel)
    if current is None or channel is None:
        return
    row = await repository.get_presence(session, agent_id, lock=True)
    if row is None:
        return
    if row.set_by == "rule" and row.status == "busy":
        back = row.return_to
    elif row.set_by == "agent" and row.status == "available":
        back = "available"  # talked, though the answered notice never came
    else:
        return  # after-call work already, or a status the agent chose
    _by_rule(session, row, "after_call_work", back=back, reason=reason)
    await session.flush()
    limit = _limits(current.acw_seconds)[channel]
    if limit > 0:
        since = row.changed_at.isoformat()
        await jobs.enqueue(
            session,
            ACW_END_JOB,
            {"agent_id": agent_id, "since": since},
            key=f"{ACW_END_JOB}:{agent_id}:{since}",
            run_at=row.changed_at + timedelta(seconds=limit),
        )


async def end_after_call_work(
    session: AsyncSession, agent_id: int, *, since: str | None, reason: str
) -> bool:
    """The rule's hold ends (the after-call work limit passed: `since` names the stretch it
    was set for; or the agent completed the call's task): back to the status the agent had
    chosen. A status chosen meanwhile, or a later stretch, is left alone."""
    row = await repository.get_presence(session, agent_id, lock=True)
    if row is None or row.set_by != "rule":
        return False
    if since is not None and (
        row.status != "after_call_work" or row.changed_at.isoformat() != since
    ):
        return False
    back = row.return_to or "available"
    row.status, row.set_by, row.return_to, row.changed_at = back, "agent", None, utcnow()
    payload = {"agent_id": agent_id, "status": back, "by": "rule", "reason": reason}
    record(session, "presence.changed", payload)
    await session.flush()
    return True
