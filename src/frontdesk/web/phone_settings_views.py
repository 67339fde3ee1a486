"""Settings -> Phone extensions (admins only): each agent's extension on the PBX, which CTI
call events and AMI name (a ringing extension pops its agent's desktop). Writes go through
auth.service.update_agent, as the API's PATCH /api/v1/agents/{id} does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from frontdesk.auth import repository as auth_repository
from frontdesk.auth import service as auth
from frontdesk.auth.models import Agent
from frontdesk.auth.schemas import AgentUpdate
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.schemas import Id
from frontdesk.web.rendering import checked_form, form_problem, render
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)


@router.get("/settings/phones", response_class=HTMLResponse)
async def phones_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    return await _page(request, session, admin, saved=bool(request.query_params.get("saved")))


@router.post("/settings/phones/{agent_id}", response_class=HTMLResponse)
async def save_extension(
    request: Request, agent_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await checked_form(request)
    member = await auth.get_agent_or_raise(session, agent_id)
    try:
        data = AgentUpdate(extension=str(form.get("extension") or "").strip())
        await auth.update_agent(session, member, data)
    except (ValidationError, FrontdeskError) as exc:
        await uow.rollback(session)
        return await _page(request, session, admin, problem=form_problem(exc), status=422)
    await uow.commit(session)
    return RedirectResponse("/settings/phones?saved=1", status_code=303)


async def _page(
    request: Request,
    session: SessionDep,
    admin: Agent,
    *,
    saved: bool = False,
    problem: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    members = await auth_repository.list_agents(session, after=None, limit=1000)
    context = {"members": members, "saved": saved, "problem": problem}
    return render(request, "settings_phones.html", context, agent=admin, status=status)
