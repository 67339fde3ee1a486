"""The supervisor's live queue board: per queue, how many wait, since when, how many are
close to their SLA, and the queue's agents by presence state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import utcnow
from frontdesk.routing import dispatch, engine, repository, service
from frontdesk.routing.expressions import parse
from frontdesk.routing.models import PRESENCE_STATUSES

# A task whose SLA is due within this is "at risk" (as the supervisor's SLA list reads it).
AT_RISK_WITHIN = timedelta(hours=1)


@dataclass
class QueueLine:
    id: int
    name: str
    waiting: int
    oldest_seconds: int | None  # how long the longest-waiting task has waited
    at_risk: int  # open tasks breached or due within AT_RISK_WITHIN
    agents: dict[str, int] = field(default_factory=dict)  # presence state → agents


async def lines(session: AsyncSession, *, now: datetime | None = None) -> list[QueueLine]:
    """One line per queue, in queue order. Agents count in every queue whose expression they
    meet, by the presence customers and supervisors see (offline when not seen lately)."""
    now = now or utcnow()
    queues = await repository.list_queues(session)
    waiting = await repository.waiting_counts(session)
    oldest = await repository.oldest_waiting(session)
    risky = await repository.due_counts(session, due_before=now + AT_RISK_WITHIN)
    presence = await service.all_presence(session)
    workers = await repository.active_workers(session)
    teams = await repository.team_names_of(session, [agent.id for agent, _ in workers])
    envs = [
        (
            agent.id,
            engine.worker_env(dispatch.attributes_of(agent, profile, teams.get(agent.id, []))),
        )
        for agent, profile in workers
    ]
    answer = []
    for queue in queues:
        expression = parse(queue.agent_expression)
        agents = dict.fromkeys(PRESENCE_STATUSES, 0)
        for agent_id, env in envs:
            if expression.matches(env):
                state = presence[agent_id].effective if agent_id in presence else "offline"
                agents[state] = agents.get(state, 0) + 1
        since = oldest.get(queue.id)
        answer.append(
            QueueLine(
                id=queue.id,
                name=queue.name,
                waiting=waiting.get(queue.id, 0),
                oldest_seconds=max(0, int((now - since).total_seconds())) if since else None,
                at_risk=risky.get(queue.id, 0),
                agents=agents,
            )
        )
    return answer
