"""Settings → Routing (admins only): queues, policies, each agent's routing attributes and
the presence rule, one page per kind of object with its list and its form. Writes go through
routing.setup and routing.service, as the routing API's do; an expression's syntax error is
shown at its position."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.schemas import Id
from frontdesk.routing import dispatch, repository, setup
from frontdesk.routing import service as presence
from frontdesk.routing.expressions import ExpressionError, parse
from frontdesk.routing.models import CALL_CHANNELS
from frontdesk.routing.schemas import (
    PolicyCreate,
    PolicyUpdate,
    PresenceRuleRead,
    PresenceRuleUpdate,
    QueueCreate,
    QueueUpdate,
    Target,
    WorkerUpdate,
)
from frontdesk.routing.views import worker_read
from frontdesk.web.rendering import checked_form, form_problem, render
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)
TARGET_ROWS = 4


class FormProblem(ValueError):
    """A field the admin typed that cannot be read (shown next to the form)."""


def expression_error(field: str, source: str) -> dict[str, Any] | None:
    """Where an expression breaks: its text, the position and the parser's words."""
    if not source.strip():
        return None
    try:
        parse(source)
    except ExpressionError as exc:
        return {"field": field, "source": source, "position": exc.position, "message": exc.message}
    return None


# Queues


@router.get("/settings/routing/queues", response_class=HTMLResponse)
async def queues_page(
    request: Request, session: SessionDep, admin: AdminPage, edit: int | None = None
) -> HTMLResponse:
    editing = await repository.get_queue(session, edit) if edit else None
    values = {"name": editing.name, "agent_expression": editing.agent_expression} if editing else {}
    return await _queues(request, session, admin, editing_id=editing.id if editing else None,
                         values=values)  # fmt: skip


async def _queues(
    request: Request, session: AsyncSession, admin: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    context = {
        "queues": await repository.list_queues(session),
        "counts": await repository.waiting_counts(session),
        "saved": request.query_params.get("saved"),
        **extra,
    }
    return render(request, "settings_routing_queues.html", context, agent=admin, status=status)


@router.post("/settings/routing/queues", response_class=HTMLResponse)
async def save_queue(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await checked_form(request)
    queue_id = str(form.get("id") or "")
    values = {
        "name": str(form.get("name") or ""),
        "agent_expression": str(form.get("agent_expression") or "").strip() or "TRUE",
    }
    try:
        if queue_id.isdigit():
            queue = await setup.get_queue_or_raise(session, int(queue_id))
            await setup.update_queue(session, queue, QueueUpdate(**values))
        else:
            await setup.create_queue(session, QueueCreate(**values))
    except (ValidationError, FrontdeskError) as exc:
        return await _queues(
            request, session, admin, status=422, values=values, problem=form_problem(exc),
            editing_id=int(queue_id) if queue_id.isdigit() else None,
            expr_error=expression_error("agent_expression", values["agent_expression"]),
        )  # fmt: skip
    await uow.commit(session)
    return RedirectResponse("/settings/routing/queues?saved=1", status_code=303)


@router.post("/settings/routing/queues/{queue_id}/delete", response_class=HTMLResponse)
async def delete_queue(
    request: Request, queue_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    await checked_form(request)
    try:
        await setup.delete_queue(session, await setup.get_queue_or_raise(session, queue_id))
    except FrontdeskError as exc:
        return await _queues(request, session, admin, status=409, values={},
                             problem=form_problem(exc))  # fmt: skip
    await uow.commit(session)
    return RedirectResponse("/settings/routing/queues?saved=1", status_code=303)


# Policies


@router.get("/settings/routing/policies", response_class=HTMLResponse)
async def policies_page(
    request: Request, session: SessionDep, admin: AdminPage, edit: int | None = None
) -> HTMLResponse:
    editing = await repository.get_policy(session, edit) if edit else None
    values: dict[str, Any] = {"position": 100, "task_expression": "TRUE", "targets": []}
    if editing:
        values = {
            "name": editing.name,
            "position": editing.position,
            "task_expression": editing.task_expression,
            "targets": list(editing.targets),
        }
    return await _policies(request, session, admin, values=values,
                           editing_id=editing.id if editing else None)  # fmt: skip


async def _policies(
    request: Request, session: AsyncSession, admin: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    queues = await repository.list_queues(session)
    targets = list(extra["values"].get("targets", []))
    context = {
        "policies": await repository.list_policies(session),
        "queues": queues,
        "queue_names": {q.id: q.name for q in queues},
        "target_rows": targets + [{}] * max(0, TARGET_ROWS - len(targets)),
        "saved": request.query_params.get("saved"),
        **extra,
    }
    return render(request, "settings_routing_policies.html", context, agent=admin, status=status)


def _targets_from(form: FormData) -> list[dict[str, Any]]:
    """The target rows the admin filled, in order (a row without a queue is left out)."""
    rows = []
    for i in range(TARGET_ROWS):
        queue = str(form.get(f"t{i}.queue_id") or "")
        if not queue.isdigit():
            continue
        row: dict[str, Any] = {"queue_id": int(queue)}
        expression = str(form.get(f"t{i}.agent_expression") or "").strip()
        if expression:
            row["agent_expression"] = expression
        for name in ("timeout_seconds", "priority_boost"):
            text = str(form.get(f"t{i}.{name}") or "").strip()
            if text:
                if not text.lstrip("-").isdigit():
                    raise FormProblem(f"target {i + 1}: {name} must be a whole number")
                row[name] = int(text)
        rows.append(row)
    return rows


@router.post("/settings/routing/policies", response_class=HTMLResponse)
async def save_policy(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await checked_form(request)
    policy_id = str(form.get("id") or "")
    position = str(form.get("position") or "100").strip()
    values: dict[str, Any] = {
        "name": str(form.get("name") or ""),
        "position": int(position) if position.isdigit() else position,
        "task_expression": str(form.get("task_expression") or "").strip() or "TRUE",
        "targets": [],
    }
    try:
        values["targets"] = _targets_from(form)
        targets = [Target(**row) for row in values["targets"]]
        data = {**values, "targets": targets}
        if policy_id.isdigit():
            policy = await setup.get_policy_or_raise(session, int(policy_id))
            await setup.update_policy(session, policy, PolicyUpdate(**data))
        else:
            await setup.create_policy(session, PolicyCreate(**data))
    except (ValidationError, FrontdeskError, FormProblem) as exc:
        errors = [expression_error("task_expression", values["task_expression"])]
        errors += [
            expression_error(f"t{i}.agent_expression", str(row.get("agent_expression", "")))
            for i, row in enumerate(values["targets"])
        ]
        return await _policies(
            request, session, admin, status=422, values=values, problem=form_problem(exc),
            editing_id=int(policy_id) if policy_id.isdigit() else None,
            expr_error=next((e for e in errors if e), None),
        )  # fmt: skip
    await uow.commit(session)
    return RedirectResponse("/settings/routing/policies?saved=1", status_code=303)


@router.post("/settings/routing/policies/{policy_id}/delete")
async def delete_policy(
    request: Request, policy_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    await checked_form(request)
    await setup.delete_policy(session, await setup.get_policy_or_raise(session, policy_id))
    await uow.commit(session)
    return RedirectResponse("/settings/routing/policies?saved=1", status_code=303)


# Agents as workers


def pairs(text: str, what: str) -> dict[str, int]:
    """`billing:4, refunds:2` → {"billing": 4, "refunds": 2}."""
    found: dict[str, int] = {}
    for part in (p.strip() for p in text.replace("\n", ",").split(",")):
        if not part:
            continue
        name, sep, number = part.partition(":")
        if not sep or not name.strip() or not number.strip().isdigit():
            raise FormProblem(f"{what}: write name:number, found {part!r}")
        found[name.strip()] = int(number.strip())
    return found


def show_pairs(values: dict[str, int]) -> str:
    return ", ".join(f"{name}:{number}" for name, number in values.items())


@router.get("/settings/routing/agents", response_class=HTMLResponse)
async def agents_page(
    request: Request, session: SessionDep, admin: AdminPage, agent: int | None = None
) -> HTMLResponse:
    return await _agents(request, session, admin, chosen=agent)


async def _agents(
    request: Request, session: AsyncSession, admin: Agent, *, chosen: int | None,
    status: int = 200, **extra: Any,
) -> HTMLResponse:  # fmt: skip
    members = await auth_repository.list_agents(session, after=None, limit=1000)
    workers = {member.id: await worker_read(session, member) for member in members}
    editing = next((m for m in members if m.id == chosen), None)
    values = extra.pop("values", None)
    if values is None and editing is not None:
        worker = workers[editing.id]
        values = {
            "skills": show_pairs(worker.skills),
            "languages": ", ".join(worker.languages),
            "tier": worker.tier,
            "capacity": show_pairs(worker.capacity),
        }
    context = {
        "members": members,
        "workers": workers,
        "editing": editing,
        "values": values or {},
        "show_pairs": show_pairs,
        "saved": request.query_params.get("saved"),
        **extra,
    }
    return render(request, "settings_routing_agents.html", context, agent=admin, status=status)


@router.post("/settings/routing/agents/{agent_id}", response_class=HTMLResponse)
async def save_worker(
    request: Request, agent_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await checked_form(request)
    member = await setup.get_agent_or_raise(session, agent_id)
    values = {
        name: str(form.get(name) or "") for name in ("skills", "languages", "tier", "capacity")
    }
    try:
        data = WorkerUpdate.model_validate(
            {
                "skills": pairs(values["skills"], "skills"),
                "languages": [w.strip() for w in values["languages"].split(",") if w.strip()],
                "tier": values["tier"],
                "capacity": pairs(values["capacity"], "capacity"),
            }
        )
        await setup.update_worker(session, member, data)
        await dispatch.route(session)
    except (ValidationError, FrontdeskError, FormProblem) as exc:
        return await _agents(request, session, admin, chosen=agent_id, status=422,
                             values=values, problem=form_problem(exc))  # fmt: skip
    await uow.commit(session)
    return RedirectResponse(f"/settings/routing/agents?agent={agent_id}&saved=1", status_code=303)


# The presence rule


@router.get("/settings/routing/presence", response_class=HTMLResponse)
async def presence_rule_page(
    request: Request, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    rule = presence.read_rule(await presence.rule(session))
    return _presence(request, admin, rule, saved=bool(request.query_params.get("saved")))


@router.post("/settings/routing/presence", response_class=HTMLResponse)
async def save_presence_rule(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await checked_form(request)
    enabled = form.get("enabled") == "1"
    typed = {c: str(form.get(f"acw_{c}") or "").strip() for c in CALL_CHANNELS}
    try:
        data = PresenceRuleUpdate.model_validate({"enabled": enabled, "acw_seconds": typed})
    except ValidationError as exc:
        current = presence.read_rule(await presence.rule(session))
        shown = current.model_copy(update={"enabled": enabled})
        return _presence(request, admin, shown, typed=typed, problem=form_problem(exc), status=422)
    await presence.update_rule(session, data, by=admin)
    await uow.commit(session)
    return RedirectResponse("/settings/routing/presence?saved=1", status_code=303)


def _presence(
    request: Request,
    admin: Agent,
    rule: PresenceRuleRead,
    *,
    saved: bool = False,
    typed: dict[str, str] | None = None,
    problem: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    seconds = {c: str(rule.acw_seconds.get(c, "")) for c in CALL_CHANNELS} | (typed or {})
    context = {"rule": rule, "seconds": seconds, "saved": saved, "problem": problem}
    return render(request, "settings_routing_presence.html", context, agent=admin, status=status)
