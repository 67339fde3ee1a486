"""The supervisor page: the live queue board, every agent with their presence and open
conversations, and the SLA at-risk list. Supervisors and admins only (others get 404)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.deps import SessionDep
from frontdesk.kit.errors import NotFound
from frontdesk.routing import board
from frontdesk.routing import repository as routing_repository
from frontdesk.routing import service as routing
from frontdesk.web import sla_views
from frontdesk.web.rendering import PageAgent, render

router = APIRouter(include_in_schema=False)


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    if not agent.sees_everything:
        raise NotFound("not found")
    rows = await _agent_rows(session)
    context = {
        "rows": rows,
        "sla_risk": await sla_views.at_risk(session),
        "queues": await board.lines(session),
    }
    return render(request, "supervisor.html", context, agent=agent)


async def _agent_rows(session: AsyncSession) -> list[dict[str, Any]]:
    presence = await routing.all_presence(session)
    counts = await routing_repository.open_conversation_counts(session)
    rows = []
    for member in await auth_repository.list_agents(session, after=None, limit=1000):
        state = presence.get(member.id)
        rows.append(
            {
                "agent": member,
                "presence": state.effective if state else "offline",
                "open": counts.get(member.id, 0),
                "conversations": await routing_repository.open_conversations_of(session, member.id),
            }
        )
    return rows


@router.get("/supervisor/agents", response_class=HTMLResponse)
async def agent_board(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    """The agents and their presence alone (htmx polls it and swaps it in on events)."""
    if not agent.sees_everything:
        raise NotFound("not found")
    context = {"rows": await _agent_rows(session)}
    return render(request, "_supervisor_agents.html", context, agent=agent)


@router.get("/supervisor/queues", response_class=HTMLResponse)
async def queue_board(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    """The queue board alone (htmx polls it and swaps it in on events)."""
    if not agent.sees_everything:
        raise NotFound("not found")
    context = {"queues": await board.lines(session)}
    return render(request, "_queue_board.html", context, agent=agent)
