"""The SLA domain's job handlers: clocks from the event log, warnings and breaches on time."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit import jobs
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


def _still_there(event: dict[str, Any]) -> bool:
    return not (event.get("payload") or {}).get("deleted")


# A changed policy or calendar moves the open clocks under it, after the change commits.
on_event("sla.policy_changed", service.RECOMPUTE_JOB, wants=_still_there)
on_event("sla.calendar_changed", service.RECOMPUTE_JOB, wants=_still_there)


@handler(service.RECOMPUTE_JOB)
async def recompute(session: AsyncSession, data: dict[str, Any]) -> None:
    """From the change's event (payload `policy_id` or `calendar_id`), or a batch that
    continues one (`policy_ids`, `after`)."""
    if "policy_ids" in data:
        policy_ids = [int(i) for i in data["policy_ids"]]
    else:
        payload = data.get("payload") or {}
        if payload.get("policy_id") is not None:
            policy_ids = [int(payload["policy_id"])]
        else:
            policy_ids = await repository.policies_on_calendar(session, int(payload["calendar_id"]))
    after = int(data.get("after", 0))
    last = await service.recompute(session, policy_ids=policy_ids, after=after)
    if last is not None:
        key = f"{service.RECOMPUTE_JOB}:{data.get('sequence', data.get('key'))}:{last}"
        await jobs.enqueue(
            session,
            service.RECOMPUTE_JOB,
            {"policy_ids": policy_ids, "after": last, "key": data.get("sequence", data.get("key"))},
            key=key,
        )


@handler(service.WARN_JOB)
async def warn(session: AsyncSession, payload: dict[str, Any]) -> None:
    await service.fire(session, int(payload["clock_id"]), int(payload["generation"]), breach=False)


@handler(service.BREACH_JOB)
async def breach(session: AsyncSession, payload: dict[str, Any]) -> None:
    await service.fire(session, int(payload["clock_id"]), int(payload["generation"]), breach=True)
