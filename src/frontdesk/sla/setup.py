"""Admin writes of the SLA domain: business calendars and SLA policies."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import utcnow
from frontdesk.kit.errors import Conflict, Invalid, NotFound
from frontdesk.kit.events import record
from frontdesk.routing import repository as routing_repository
from frontdesk.sla import repository
from frontdesk.sla.models import SlaCalendar, SlaPolicy
from frontdesk.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate


async def get_calendar_or_raise(session: AsyncSession, calendar_id: int) -> SlaCalendar:
    calendar = await repository.get_calendar(session, calendar_id)
    if calendar is None:
        raise NotFound("calendar not found")
    return calendar


async def create_calendar(session: AsyncSession, data: CalendarCreate) -> SlaCalendar:
    """A business calendar: hours per weekday, holidays, time zone."""
    await _unique_calendar(session, data.name)
    calendar = SlaCalendar(
        name=data.name,
        time_zone=data.time_zone,
        hours=data.hours,
        holidays=sorted({d.isoformat() for d in data.holidays}),
        created_at=utcnow(),
    )
    session.add(calendar)
    await session.flush()
    record(session, "sla.calendar_changed", {"calendar_id": calendar.id})
    return calendar


async def update_calendar(
    session: AsyncSession, calendar: SlaCalendar, data: CalendarUpdate
) -> SlaCalendar:
    """Change a calendar; the `sla.recompute` job then moves the open clocks of its policies."""
    if data.name is not None and data.name != calendar.name:
        await _unique_calendar(session, data.name)
        calendar.name = data.name
    if data.time_zone is not None:
        calendar.time_zone = data.time_zone
    if data.hours is not None:
        calendar.hours = data.hours
    if data.holidays is not None:
        calendar.holidays = sorted({d.isoformat() for d in data.holidays})
    await session.flush()
    record(session, "sla.calendar_changed", {"calendar_id": calendar.id})
    return calendar


async def delete_calendar(session: AsyncSession, calendar: SlaCalendar) -> None:
    if await repository.calendar_in_use(session, calendar.id):
        raise Conflict("an SLA policy uses this calendar", code="calendar_in_use")
    await session.delete(calendar)
    await session.flush()
    record(session, "sla.calendar_changed", {"calendar_id": calendar.id, "deleted": True})


async def get_policy_or_raise(session: AsyncSession, policy_id: int) -> SlaPolicy:
    policy = await repository.get_policy(session, policy_id)
    if policy is None:
        raise NotFound("SLA policy not found")
    return policy


async def create_policy(session: AsyncSession, data: PolicyCreate) -> SlaPolicy:
    """An SLA policy: conditions and targets in business time."""
    await _unique_policy(session, data.name)
    fields = data.model_dump()
    await _check_links(session, fields)
    policy = SlaPolicy(**fields, created_at=utcnow())
    _check_targets(policy)
    session.add(policy)
    await session.flush()
    record(session, "sla.policy_changed", {"policy_id": policy.id})
    return policy


async def update_policy(session: AsyncSession, policy: SlaPolicy, data: PolicyUpdate) -> SlaPolicy:
    """Change a policy; the `sla.recompute` job then moves the open clocks under it."""
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] != policy.name:
        await _unique_policy(session, changes["name"])
    await _check_links(session, changes)
    for name, value in changes.items():
        setattr(policy, name, value)
    _check_targets(policy)
    await session.flush()
    record(session, "sla.policy_changed", {"policy_id": policy.id})
    return policy


async def delete_policy(session: AsyncSession, policy: SlaPolicy) -> None:
    await session.delete(policy)
    await session.flush()
    record(session, "sla.policy_changed", {"policy_id": policy.id, "deleted": True})


def _check_targets(policy: SlaPolicy) -> None:
    if not (
        policy.first_response_seconds or policy.next_response_seconds or policy.resolution_seconds
    ):
        raise Invalid("a policy needs at least one target", code="no_target")


async def _check_links(session: AsyncSession, fields: dict[str, Any]) -> None:
    calendar_id = fields.get("calendar_id")
    if calendar_id is not None and await repository.get_calendar(session, calendar_id) is None:
        raise Invalid(f"calendar {calendar_id} does not exist", code="unknown_calendar")
    queue_id = fields.get("escalation_queue_id")
    if queue_id is not None and await routing_repository.get_queue(session, queue_id) is None:
        raise Invalid(f"queue {queue_id} does not exist", code="unknown_queue")


async def _unique_calendar(session: AsyncSession, name: str) -> None:
    if await repository.calendar_named(session, name) is not None:
        raise Conflict(f"a calendar named {name!r} exists", code="name_taken")


async def _unique_policy(session: AsyncSession, name: str) -> None:
    if await repository.policy_named(session, name) is not None:
        raise Conflict(f"an SLA policy named {name!r} exists", code="name_taken")
