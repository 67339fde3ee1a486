"""The SLA domain's job handlers: clocks from the event log, warnings and breaches on time."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit.jobs import handler, on_event
from frontdesk.sla import repository, service

TRACK_JOB = "sla.track"


def _person_wrote(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return payload.get("author_kind") in ("customer", "agent")


def _conversation_task(event: dict[str, Any]) -> bool:
    return (event.get("payload") or {}).get("kind") == "conversation"


# Clocks run only once an SLA policy exists: no job before that. Task events exist only
# once routing is configured; they stamp the conversation's first offer and acceptance
# and feed a new task the SLA's due time.
on_event("conversation.created", TRACK_JOB, enabled=repository.any_policy)
on_event("message.created", TRACK_JOB, wants=_person_wrote, enabled=repository.any_policy)
on_event("conversation.status_changed", TRACK_JOB, enabled=repository.any_policy)
for _type in ("task.offered", "task.accepted", "task.assigned", "task.created"):
    on_event(_type, TRACK_JOB, wants=_conversation_task)


@handler(TRACK_JOB)
async def track(session: AsyncSession, event: dict[str, Any]) -> None:
    await service.track(session, event)


@handler(service.WARN_JOB)
async def warn(session: AsyncSession, payload: dict[str, Any]) -> None:
    await service.fire(session, int(payload["clock_id"]), int(payload["generation"]), breach=False)


@handler(service.BREACH_JOB)
async def breach(session: AsyncSession, payload: dict[str, Any]) -> None:
    await service.fire(session, int(payload["clock_id"]), int(payload["generation"]), breach=True)
