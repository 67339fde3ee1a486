"""My work: the universal task list (conversation tasks and back-office work items) in
priority order, with pick, accept, reject, complete and transfer, and new work items. Every
action goes through the routing dispatch functions, as the tasks API does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.schemas import Id
from frontdesk.routing import dispatch, placing, repository, setup
from frontdesk.routing.models import OPEN_TASK_STATUSES, RoutingTask
from frontdesk.routing.schemas import TaskCreate
from frontdesk.routing.views import SEES_ALL, read_tasks, visible_task
from frontdesk.web import sla_views
from frontdesk.web.rendering import PageAgent, check_csrf, render

router = APIRouter(include_in_schema=False)
KINDS = ("conversation", "work_item")
CHANNELS = ("api", "email", "webchat", "sms", "voice", "whatsapp", "telegram", "messenger",
            "instagram", "backoffice")  # fmt: skip
Action = Literal["accept", "reject", "wrap-up", "complete"]


def _filters(channel: str, queue: str, kind: str) -> dict[str, Any]:
    return {
        "channel": channel if channel in CHANNELS else "",
        "queue": int(queue) if queue.isdigit() else None,
        "kind": kind if kind in KINDS else "",
    }


def _query(found: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in found.items() if v not in ("", None)})


def _back(back: str, **extra: str) -> RedirectResponse:
    """Back to My work with the filters the agent had (only ours: never another URL)."""
    parts = dict(item.split("=", 1) for item in back.split("&") if "=" in item)
    found = _filters(parts.get("channel", ""), parts.get("queue", ""), parts.get("kind", ""))
    query = _query({**found, **extra})
    return RedirectResponse("/work" + (f"?{query}" if query else ""), status_code=303)


async def _tasks(session: AsyncSession, agent: Agent, found: dict[str, Any]) -> list[RoutingTask]:
    """Open tasks of the agent's queues (all for supervisors and admins) and the ones offered
    to or held by them, in priority order."""
    queue_ids: list[int] | None = None
    if agent.role not in SEES_ALL:
        queue_ids = list(await dispatch.queues_of_agent(session, agent))
    if found["queue"] is not None:
        queue_ids = [found["queue"]] if queue_ids is None or found["queue"] in queue_ids else []
    common: dict[str, Any] = {
        "statuses": OPEN_TASK_STATUSES,
        "kind": found["kind"] or None,
        "channel": found["channel"] or None,
        "limit": 200,
    }
    rows = await repository.list_tasks(session, queue_ids=queue_ids, **common)
    mine = await repository.list_tasks(
        session,
        assignee_id=agent.id,
        queue_ids=None if found["queue"] is None else [found["queue"]],
        **common,
    )
    merged = {task.id: task for task in [*rows, *mine]}
    return sorted(merged.values(), key=lambda task: (task.rank_at, task.id))


async def _context(session: AsyncSession, agent: Agent, found: dict[str, Any]) -> dict[str, Any]:
    queues = await repository.list_queues(session)
    tasks = await read_tasks(session, await _tasks(session, agent, found))
    conversation_ids = [t.conversation_id for t in tasks if t.conversation_id]
    return {
        "tasks": tasks,
        "sla_badges": await sla_views.row_badges(session, conversation_ids),
        "queues": queues,
        "queue_names": {q.id: q.name for q in queues},
        "agents": await auth_repository.list_agents(session, after=None, limit=1000),
        "filter": found,
        "back": _query(found),
        "channels": CHANNELS,
        "kinds": KINDS,
    }


@router.get("/work", response_class=HTMLResponse)
async def work_page(
    request: Request, session: SessionDep, agent: PageAgent,
    channel: str = "", queue: str = "", kind: str = "",
) -> HTMLResponse:  # fmt: skip
    context = await _context(session, agent, _filters(channel, queue, kind))
    context["error"] = request.query_params.get("error")
    context["notice"] = request.query_params.get("notice")
    return render(request, "work.html", context, agent=agent)


@router.get("/work/rows", response_class=HTMLResponse)
async def work_rows(
    request: Request, session: SessionDep, agent: PageAgent,
    channel: str = "", queue: str = "", kind: str = "",
) -> HTMLResponse:  # fmt: skip
    """The list alone (htmx swaps it in when a task event arrives)."""
    context = await _context(session, agent, _filters(channel, queue, kind))
    return render(request, "_work_rows.html", context, agent=agent)


@router.post("/work/next")
async def pick(
    request: Request, session: SessionDep, agent: PageAgent,
    csrf: Annotated[str, Form()], back: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Pick: take the first-ranked waiting task of your queues."""
    check_csrf(request, csrf)
    try:
        task = await dispatch.take_next(session, agent)
    except FrontdeskError as exc:
        return _back(back, error=exc.code)
    await uow.commit(session)
    return _back(back, notice="picked" if task else "nothing")


@router.post("/work/items")
async def create_item(
    request: Request, session: SessionDep, agent: PageAgent,
    csrf: Annotated[str, Form()], type: Annotated[str, Form()],
    description: Annotated[str, Form()] = "", due_at: Annotated[str, Form()] = "",
    customer_id: Annotated[str, Form()] = "", conversation_id: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """A back-office work item, routed like any task."""
    check_csrf(request, csrf)
    try:
        due = datetime.fromisoformat(due_at).replace(tzinfo=UTC) if due_at else None
        data = TaskCreate(
            type=type.strip(),
            description=description,
            due_at=due,
            customer_id=int(customer_id) if customer_id.strip() else None,
            conversation_id=int(conversation_id) if conversation_id.strip() else None,
        )
        await placing.create_work_item(session, data, by=agent)
        await dispatch.route(session)
    except (ValidationError, ValueError):
        return _back(back, error="invalid")
    except FrontdeskError as exc:
        return _back(back, error=exc.code)
    await uow.commit(session)
    return _back(back, notice="created")


@router.post("/work/tasks/{task_id}/transfer")
async def transfer(
    request: Request, task_id: Id, session: SessionDep, agent: PageAgent,
    csrf: Annotated[str, Form()], to: Annotated[str, Form()], back: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Hand a task you hold (supervisors: any) to an agent ("agent:ID") or a queue."""
    check_csrf(request, csrf)
    task = await visible_task(session, task_id, agent)
    kind, _, target = to.partition(":")
    if kind not in ("agent", "queue") or not target.isdigit():
        return _back(back, error="invalid")
    if agent.role not in SEES_ALL and task.assignee_id != agent.id:
        return _back(back, error="not_yours")
    try:
        if kind == "queue":
            queue = await setup.get_queue_or_raise(session, int(target))
            await dispatch.transfer(session, task, by=agent, agent_id=None, queue=queue)
        else:
            await setup.get_agent_or_raise(session, int(target))
            await dispatch.transfer(session, task, by=agent, agent_id=int(target), queue=None)
        await dispatch.route(session)
    except FrontdeskError as exc:
        return _back(back, error=exc.code)
    await uow.commit(session)
    return _back(back, notice="transferred")


@router.post("/work/tasks/{task_id}/{action}")
async def act(
    request: Request, task_id: Id, action: Action, session: SessionDep, agent: PageAgent,
    csrf: Annotated[str, Form()], back: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Accept or reject an offer (from the list or the offer banner); wrap up or complete."""
    check_csrf(request, csrf)
    task = await visible_task(session, task_id, agent)
    try:
        if action == "accept":
            await dispatch.accept(session, task, agent)
        elif action == "reject":
            await dispatch.reject(session, task, agent)
        elif action == "wrap-up":
            await dispatch.wrap_up(session, task, agent)
        else:
            await dispatch.complete(session, task, agent)
        if action != "accept":
            await dispatch.route(session)
    except FrontdeskError as exc:
        return _back(back, error=exc.code)
    await uow.commit(session)
    if action == "accept" and task.conversation_id is not None:
        return RedirectResponse(f"/conversations/{task.conversation_id}", status_code=303)
    return _back(back, notice=action)
