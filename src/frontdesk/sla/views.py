"""SLA over HTTP: admins manage business calendars and SLA policies. A conversation's clocks
are read with it (GET /api/v1/conversations/{id} → "sla")."""

from __future__ import annotations

from fastapi import APIRouter, Response

from frontdesk.conversations.views import SLA_READERS
from frontdesk.deps import AdminAgent, SessionDep
from frontdesk.kit import uow
from frontdesk.kit.openapi import errors
from frontdesk.kit.schemas import Id
from frontdesk.sla import repository, service, setup
from frontdesk.sla.models import SlaCalendar, SlaPolicy
from frontdesk.sla.schemas import (
    CalendarCreate,
    CalendarRead,
    CalendarUpdate,
    PolicyCreate,
    PolicyRead,
    PolicyUpdate,
)

router = APIRouter(tags=["sla"])
SLA_READERS.append(service.read_clocks)


def _calendar(calendar: SlaCalendar) -> CalendarRead:
    return CalendarRead.model_validate(calendar, from_attributes=True)


def _policy(policy: SlaPolicy) -> PolicyRead:
    return PolicyRead.model_validate(policy, from_attributes=True)


@router.get("/sla/calendars", response_model=list[CalendarRead])
async def list_calendars(session: SessionDep, admin: AdminAgent) -> list[CalendarRead]:
    return [_calendar(c) for c in await repository.list_calendars(session)]


@router.post("/sla/calendars", response_model=CalendarRead, status_code=201, responses=errors(409))
async def create_calendar(
    data: CalendarCreate, session: SessionDep, admin: AdminAgent
) -> CalendarRead:
    calendar = await setup.create_calendar(session, data)
    await uow.commit(session)
    return _calendar(calendar)


@router.get("/sla/calendars/{calendar_id}", response_model=CalendarRead)
async def get_calendar(calendar_id: Id, session: SessionDep, admin: AdminAgent) -> CalendarRead:
    return _calendar(await setup.get_calendar_or_raise(session, calendar_id))


@router.patch(
    "/sla/calendars/{calendar_id}", response_model=CalendarRead, responses=errors(404, 409)
)
async def update_calendar(
    calendar_id: Id, data: CalendarUpdate, session: SessionDep, admin: AdminAgent
) -> CalendarRead:
    calendar = await setup.get_calendar_or_raise(session, calendar_id)
    await setup.update_calendar(session, calendar, data)
    await uow.commit(session)
    return _calendar(calendar)


@router.delete("/sla/calendars/{calendar_id}", status_code=204, responses=errors(409))
async def delete_calendar(calendar_id: Id, session: SessionDep, admin: AdminAgent) -> Response:
    await setup.delete_calendar(session, await setup.get_calendar_or_raise(session, calendar_id))
    await uow.commit(session)
    return Response(status_code=204)


@router.get("/sla/policies", response_model=list[PolicyRead])
async def list_policies(session: SessionDep, admin: AdminAgent) -> list[PolicyRead]:
    return [_policy(p) for p in await repository.list_policies(session)]


@router.post("/sla/policies", response_model=PolicyRead, status_code=201, responses=errors(409))
async def create_policy(data: PolicyCreate, session: SessionDep, admin: AdminAgent) -> PolicyRead:
    policy = await setup.create_policy(session, data)
    await uow.commit(session)
    return _policy(policy)


@router.get("/sla/policies/{policy_id}", response_model=PolicyRead)
async def get_policy(policy_id: Id, session: SessionDep, admin: AdminAgent) -> PolicyRead:
    return _policy(await setup.get_policy_or_raise(session, policy_id))


@router.patch("/sla/policies/{policy_id}", response_model=PolicyRead, responses=errors(409))
async def update_policy(
    policy_id: Id, data: PolicyUpdate, session: SessionDep, admin: AdminAgent
) -> PolicyRead:
    policy = await setup.get_policy_or_raise(session, policy_id)
    await setup.update_policy(session, policy, data)
    await uow.commit(session)
    return _policy(policy)


@router.delete("/sla/policies/{policy_id}", status_code=204)
async def delete_policy(policy_id: Id, session: SessionDep, admin: AdminAgent) -> Response:
    await setup.delete_policy(session, await setup.get_policy_or_raise(session, policy_id))
    await uow.commit(session)
    return Response(status_code=204)
