"""SLA in the desktop: countdowns on the conversation, My work and the inbox list (ticked by
static/sla.js, turned to "breached" live by the sla.breached event), and Settings → SLA
(admins): business calendars and SLA policies, written through sla.setup as the API does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from frontdesk.auth.models import Agent
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import PRIORITIES
from frontdesk.conversations.schemas import SlaClockRead
from frontdesk.db import utcnow
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.schemas import Id
from frontdesk.routing import repository as routing_repository
from frontdesk.sla import businesstime as bt
from frontdesk.sla import repository, service, setup
from frontdesk.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate
from frontdesk.web.rendering import PageAgent, checked_form, form_problem, render
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)
KIND_ORDER = {"first_response": 0, "next_response": 1, "resolution": 2}


def clock_view(clock: SlaClockRead) -> dict[str, Any]:
    """What a countdown badge needs (static/sla.js ticks it between renders). At risk: the
    80 % warning fired, or less than 20 % of the target is left."""
    running = clock.state == "running"
    return {
        "kind": clock.kind,
        "state": clock.state,
        "due_at": clock.due_at.isoformat() if clock.due_at else "",
        "due": clock.due_at,
        "breached": clock.breached_at is not None,
        "at_risk": clock.warned_at is not None
        or (running and clock.remaining_seconds <= clock.target_seconds * 0.2),
        "remaining": clock.remaining_seconds,
    }


async def clock_views(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """Each conversation's clocks, open ones first, as badges."""
    read = await service.read_clocks(session, list(conversation_ids))
    return {
        cid: sorted(
            (clock_view(c) for c in clocks),
            key=lambda v: (v["state"] not in ("running", "paused"), KIND_ORDER[v["kind"]]),
        )
        for cid, clocks in read.items()
    }


def most_urgent(views: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one badge a list row shows: a running clock due first, else a paused one."""
    running = [v for v in views if v["state"] == "running"]
    if running:
        return min(running, key=lambda v: v["due_at"])
    paused = [v for v in views if v["state"] == "paused"]
    return paused[0] if paused else None


async def row_badges(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    return list_badges(await clock_views(session, conversation_ids))


def list_badges(views: dict[int, list[dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Each conversation's one list badge (most_urgent) from its clock views."""
    return {cid: badge for cid, v in views.items() if (badge := most_urgent(v)) is not None}


async def at_risk(session: AsyncSession, *, limit: int = 50) -> list[dict[str, Any]]:
    """The supervisor's list: conversations breached, warned or due within the hour."""
    soon = utcnow() + timedelta(hours=1)
    ids = await repository.clocks_at_risk(session, due_before=soon, limit=limit)
    badges = await row_badges(session, ids)
    return [{"conversation_id": cid, "clock": badges[cid]} for cid in ids if cid in badges]


@router.get("/conversations/{conversation_id}/sla", response_class=HTMLResponse)
async def conversation_clocks(
    request: Request, conversation_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    """The conversation's SLA block alone (htmx swaps it in when an event arrives)."""
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    views = await clock_views(session, [conversation.id])
    context = {"conversation": conversation, "sla_clocks": views.get(conversation.id, [])}
    return render(request, "_sla_clocks.html", context, agent=agent)


# Settings → SLA


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.replace("،", ",").split(",") if word.strip()]


@router.get("/settings/sla/calendars", response_class=HTMLResponse)
async def calendars_page(
    request: Request, session: SessionDep, admin: AdminPage, edit: int | None = None
) -> HTMLResponse:
    editing = await repository.get_calendar(session, edit) if edit else None
    values: dict[str, Any] = {"time_zone": "UTC"}
    if editing:
        values = {
            "name": editing.name,
            "time_zone": editing.time_zone,
            "holidays": ", ".join(editing.holidays),
            **{f"hours_{day}": ", ".join(editing.hours.get(day, [])) for day in bt.WEEKDAYS},
        }
    else:
        values.update({f"hours_{day}": "09:00-17:00" for day in bt.WEEKDAYS[:5]})
    return await _calendars(
        request, session, admin, values=values, editing_id=editing.id if editing else None
    )


async def _calendars(
    request: Request, session: AsyncSession, admin: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    context = {
        "calendars": await repository.list_calendars(session),
        "weekdays": bt.WEEKDAYS,
        "saved": request.query_params.get("saved"),
        **extra,
    }
    return render(request, "settings_sla_calendars.html", context, agent=admin, status=status)


@router.post("/settings/sla/calendars", response_class=HTMLResponse)
async def save_calendar(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await checked_form(request)
    calendar_id = str(form.get("id") or "")
    values = {key: str(value) for key, value in form.items() if key not in ("csrf", "id")}
    fields: dict[str, Any] = {
        "name": values.get("name", ""),
        "time_zone": values.get("time_zone", "").strip() or "UTC",
        "hours": {day: _words(values.get(f"hours_{day}", "")) for day in bt.WEEKDAYS},
        "holidays": _words(values.get("holidays", "")),
    }
    try:
        if calendar_id.isdigit():
            calendar = await setup.get_calendar_or_raise(session, int(calendar_id))
            await setup.update_calendar(session, calendar, CalendarUpdate.model_validate(fields))
        else:
            await setup.create_calendar(session, CalendarCreate.model_validate(fields))
    except (ValidationError, FrontdeskError) as exc:
        return await _calendars(
            request, session, admin, status=422, values=values, problem=form_problem(exc),
            editing_id=int(calendar_id) if calendar_id.isdigit() else None,
        )  # fmt: skip
    await uow.commit(session)
    return RedirectResponse("/settings/sla/calendars?saved=1", status_code=303)


@router.post("/settings/sla/calendars/{calendar_id}/delete", response_class=HTMLResponse)
async def delete_calendar(
    request: Request, calendar_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    await checked_form(request)
    try:
        await setup.delete_calendar(
            session, await setup.get_calendar_or_raise(session, calendar_id)
        )
    except FrontdeskError as exc:
        return await _calendars(request, session, admin, status=409, values={},
                                problem=form_problem(exc))  # fmt: skip
    await uow.commit(session)
    return RedirectResponse("/settings/sla/calendars?saved=1", status_code=303)


@router.get("/settings/sla/policies", response_class=HTMLResponse)
async def policies_page(
    request: Request, session: SessionDep, admin: AdminPage, edit: int | None = None
) -> HTMLResponse:
    editing = await repository.get_policy(session, edit) if edit else None
    values: dict[str, Any] = {"position": "100", "priority_boost": "1"}
    if editing:
        values = {
            "name": editing.name,
            "position": str(editing.position),
            "channels": ", ".join(editing.channels),
            "priorities": list(editing.priorities),
            "tiers": ", ".join(editing.tiers),
            "calendar_id": str(editing.calendar_id or ""),
            "escalation_queue_id": str(editing.escalation_queue_id or ""),
            "priority_boost": str(editing.priority_boost),
            **{
                f"{kind}_minutes": _minutes(getattr(editing, f"{kind}_seconds"))
                for kind in KIND_ORDER
            },
        }
    return await _policies(
        request, session, admin, values=values, editing_id=editing.id if editing else None
    )


def _minutes(seconds: int | None) -> str:
    return "" if seconds is None else str(seconds // 60)


async def _policies(
    request: Request, session: AsyncSession, admin: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    calendars = await repository.list_calendars(session)
    queues = await routing_repository.list_queues(session)
    context = {
        "policies": await repository.list_policies(session),
        "calendars": calendars,
        "calendar_names": {c.id: c.name for c in calendars},
        "queues": queues,
        "priorities": PRIORITIES,
        "kinds": list(KIND_ORDER),
        "saved": request.query_params.get("saved"),
        **extra,
    }
    return render(request, "settings_sla_policies.html", context, agent=admin, status=status)


def _policy_fields(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the form shows back, the schema's fields)."""
    values: dict[str, Any] = {
        key: str(value) for key, value in form.items() if key not in ("csrf", "id", "priorities")
    }
    values["priorities"] = [str(p) for p in form.getlist("priorities")]
    fields: dict[str, Any] = {
        "name": values.get("name", ""),
        "position": values.get("position", "").strip() or "100",
        "channels": _words(values.get("channels", "")),
        "priorities": values["priorities"],
        "tiers": _words(values.get("tiers", "")),
        "calendar_id": values.get("calendar_id") or None,
        "escalation_queue_id": values.get("escalation_queue_id") or None,
        "priority_boost": values.get("priority_boost", "").strip() or "1",
    }
    for kind in KIND_ORDER:
        minutes = values.get(f"{kind}_minutes", "").strip()
        fields[f"{kind}_seconds"] = int(minutes) * 60 if minutes.isdigit() else (minutes or None)
    return values, fields


@router.post("/settings/sla/policies", response_class=HTMLResponse)
async def save_policy(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await checked_form(request)
    policy_id = str(form.get("id") or "")
    values, fields = _policy_fields(form)
    try:
        if policy_id.isdigit():
            policy = await setup.get_policy_or_raise(session, int(policy_id))
            await setup.update_policy(session, policy, PolicyUpdate.model_validate(fields))
        else:
            await setup.create_policy(session, PolicyCreate.model_validate(fields))
    except (ValidationError, FrontdeskError) as exc:
        return await _policies(
            request, session, admin, status=422, values=values, problem=form_problem(exc),
            editing_id=int(policy_id) if policy_id.isdigit() else None,
        )  # fmt: skip
    await uow.commit(session)
    return RedirectResponse("/settings/sla/policies?saved=1", status_code=303)


@router.post("/settings/sla/policies/{policy_id}/delete", response_class=HTMLResponse)
async def delete_policy(
    request: Request, policy_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    await checked_form(request)
    await setup.delete_policy(session, await setup.get_policy_or_raise(session, policy_id))
    await uow.commit(session)
    return RedirectResponse("/settings/sla/policies?saved=1", status_code=303)
