"""People in the desktop: Settings -> Agents (invite, role, deactivate and reactivate, a new
invitation link) and Settings -> Teams (create, rename, members), both admins only; the
invitation page where an invited agent chooses a password; and each agent's profile (name,
language, signature, password, personal API tokens). Every write goes through auth.service,
as the API's do."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository, service
from frontdesk.auth.models import ROLES, Agent
from frontdesk.auth.schemas import (
    AgentInvite,
    AgentUpdate,
    PasswordChange,
    ProfileUpdate,
    TeamCreate,
    TeamUpdate,
)
from frontdesk.auth.views import invitation_url
from frontdesk.config import Settings
from frontdesk.demo import mail as demo_mail
from frontdesk.deps import SESSION_COOKIE, RuntimeDep, SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, Invalid, NotFound
from frontdesk.kit.i18n import LANGUAGES, translator
from frontdesk.kit.schemas import Id
from frontdesk.web.people_text import (
    INVITATION_BODY,
    INVITATION_SUBJECT,
    PEOPLE_ERRORS,
    error_code,
)
from frontdesk.web.rendering import PageAgent, checked_form, refused, render, session_cookie
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)
LANGUAGE_NAMES = {"en": "English", "ar": "العربية", "fa": "فارسی"}


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "invalid"
    return error_code(getattr(exc, "code", None))


# -- Settings -> Agents -----------------------------------------------------------------


@router.get("/settings/agents", response_class=HTMLResponse)
async def agents_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    return await _agents_page(request, session, admin, notice=request.query_params.get("done"))


@router.post("/settings/agents", response_class=HTMLResponse)
async def invite_agent(
    request: Request, session: SessionDep, admin: AdminPage, runtime: RuntimeDep
) -> Response:
    """Invite an agent: the link is shown once on the answer (and, in the demo, mailed to
    the demo mailbox)."""
    form = await checked_form(request)
    values = {key: str(form.get(key) or "") for key in ("email", "name", "role", "language")}
    await uow.commit(session)  # argon2 runs outside any transaction
    try:
        data = AgentInvite.model_validate(values)
        agent, token, _expires = await service.invite_agent(
            session, data, cost=runtime.settings.password_cost
        )
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, admin)
        return await _agents_page(
            request, session, admin, problem=_problem(exc), form=values, status=422
        )
    await uow.commit(session)
    url = invitation_url(runtime.settings.base_url, token)
    mailed = _mail_invitation(runtime.settings, agent, url, by=admin)
    return await _agents_page(request, session, admin, invited=agent, invitation=url, mailed=mailed)


@router.post("/settings/agents/{agent_id}", response_class=HTMLResponse)
async def update_agent(
    request: Request, agent_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    """Change an agent's role, or deactivate / reactivate them (`action`)."""
    form = await checked_form(request)
    target = await service.get_agent_or_raise(session, agent_id)
    action = str(form.get("action") or "")
    choices: dict[str, dict[str, Any]] = {
        "role": {"role": str(form.get("role") or "")},
        "deactivate": {"active": False},
        "activate": {"active": True},
    }
    changes = choices.get(action, {})
    try:
        await service.update_agent(session, target, AgentUpdate.model_validate(changes))
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, admin)
        return await _agents_page(request, session, admin, problem=_problem(exc), status=422)
    await uow.commit(session)
    return RedirectResponse(f"/settings/agents?done={action or 'saved'}", status_code=303)


@router.post("/settings/agents/{agent_id}/invitation", response_class=HTMLResponse)
async def reinvite(
    request: Request, agent_id: Id, session: SessionDep, admin: AdminPage, runtime: RuntimeDep
) -> HTMLResponse:
    await checked_form(request)
    target = await service.get_agent_or_raise(session, agent_id)
    token, _expires = await service.reinvite(session, target)
    await uow.commit(session)
    url = invitation_url(runtime.settings.base_url, token)
    mailed = _mail_invitation(runtime.settings, target, url, by=admin)
    return await _agents_page(
        request, session, admin, invited=target, invitation=url, mailed=mailed
    )


async def _agents_page(
    request: Request, session: AsyncSession, admin: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    agents = list(await repository.list_agents(session, after=None, limit=1000))
    context = {
        "agents": agents,
        "pending": await repository.has_pending_invitation(session, [a.id for a in agents]),
        "roles": ROLES,
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "errors_text": PEOPLE_ERRORS,
        "form": {},
        **extra,
    }
    return render(request, "settings_agents.html", context, agent=admin, status=status)


def _mail_invitation(settings: Settings, agent: Agent, url: str, *, by: Agent) -> bool:
    """In the demo the invitation goes to the demo mailbox (after commit); elsewhere the
    admin passes the link on (no system mail relay is configured in Frontdesk yet)."""
    if settings.env != "development":
        return False
    _ = translator(agent.language)
    message = EmailMessage()
    message["From"] = "Frontdesk <no-reply@frontdesk.invalid>"
    message["To"] = agent.email
    message["Subject"] = _(INVITATION_SUBJECT)
    message.set_content(_(INVITATION_BODY, name=by.name) + f"\n\n{url}\n")
    demo_mail.keep(settings, message)
    return True


# -- Settings -> Teams ------------------------------------------------------------------


@router.get("/settings/teams", response_class=HTMLResponse)
async def teams_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    return await _teams_page(request, session, admin, notice=request.query_params.get("done"))


@router.post("/settings/teams", response_class=HTMLResponse)
async def create_team(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await checked_form(request)
    try:
        data = TeamCreate(name=str(form.get("name") or "").strip(), agent_ids=_ids(form))
        await service.create_team(session, data)
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, admin)
        return await _teams_page(request, session, admin, problem=_problem(exc), status=422)
    await uow.commit(session)
    return RedirectResponse("/settings/teams?done=created", status_code=303)


@router.post("/settings/teams/{team_id}", response_class=HTMLResponse)
async def update_team(
    request: Request, team_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    """Rename a team and set its members (the checked agents)."""
    form = await checked_form(request)
    team = await service.get_team_or_raise(session, team_id)
    try:
        data = TeamUpdate(name=str(form.get("name") or "").strip(), agent_ids=_ids(form))
        await service.update_team(session, team, data)
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, admin)
        return await _teams_page(request, session, admin, problem=_problem(exc), status=422)
    await uow.commit(session)
    return RedirectResponse("/settings/teams?done=saved", status_code=303)


async def _teams_page(
    request: Request, session: AsyncSession, admin: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    teams = [await service.read_team(session, t) for t in await repository.list_teams(session)]
    context = {
        "teams": teams,
        "agents": list(await repository.list_agents(session, after=None, limit=1000)),
        "errors_text": PEOPLE_ERRORS,
        **extra,
    }
    return render(request, "settings_teams.html", context, agent=admin, status=status)


def _ids(form: Any) -> list[int]:
    return [int(str(v)) for v in form.getlist("agent_ids") if str(v).isdigit()][:1000]


# -- The invitation ---------------------------------------------------------------------


@router.get("/invite/{token}", response_class=HTMLResponse)
async def invitation_page(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    invited = await _invited(session, token)
    return render(request, "invite.html", {"invited": invited, "token": token},
                  page_language=invited.language)  # fmt: skip


@router.post("/invite/{token}", response_class=HTMLResponse)
async def accept_invitation(
    request: Request, token: str, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The invited agent's first password: then they are logged in."""
    form = await checked_form(request)
    invited = await _invited(session, token)
    password = str(form.get("password") or "")
    await uow.commit(session)  # argon2 runs outside any transaction
    try:
        if password != str(form.get("password_again") or ""):
            raise Invalid("passwords differ", code="passwords_differ")
        await service.accept_invitation(
            session, invited, password, cost=runtime.settings.password_cost
        )
    except FrontdeskError as exc:
        await refused(session, invited)
        context = {"invited": invited, "token": token, "problem": _problem(exc),
                   "errors_text": PEOPLE_ERRORS}  # fmt: skip
        return render(request, "invite.html", context, page_language=invited.language,
                      status=422)  # fmt: skip
    session_token = await service.issue_token(session, invited, kind="session", name="browser")
    await uow.commit(session)
    response = RedirectResponse("/", status_code=303)
    session_cookie(response, runtime.settings, session_token)
    return response


async def _invited(session: AsyncSession, token: str) -> Agent:
    invited = await service.invited_agent(session, token) if len(token) < 100 else None
    if invited is None:
        raise NotFound("this invitation link is not valid any more", code="not_found")
    return invited


# -- The profile ------------------------------------------------------------------------


@router.get("/profile", response_class=HTMLResponse)
async def profile_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    return await _profile_page(request, session, agent, notice=request.query_params.get("done"))


@router.post("/profile", response_class=HTMLResponse)
async def save_profile(request: Request, session: SessionDep, agent: PageAgent) -> Response:
    form = await checked_form(request)
    values = {key: str(form.get(key) or "") for key in ("name", "language", "signature")}
    try:
        await service.update_profile(session, agent, ProfileUpdate.model_validate(values))
    except ValidationError as exc:
        await refused(session, agent)
        return await _profile_page(request, session, agent, problem=_problem(exc), status=422)
    await uow.commit(session)
    return RedirectResponse("/profile?done=saved", status_code=303)


@router.post("/profile/password", response_class=HTMLResponse)
async def change_password(
    request: Request, session: SessionDep, agent: PageAgent, runtime: RuntimeDep
) -> Response:
    """The current password is required; other sessions and tokens end, this one stays."""
    form = await checked_form(request)
    await uow.commit(session)  # argon2 runs outside any transaction
    cost = runtime.settings.password_cost
    try:
        data = PasswordChange(
            current_password=str(form.get("current_password") or "") or "-",
            new_password=str(form.get("new_password") or "") or "-",
        )
        if data.new_password != str(form.get("new_password_again") or ""):
            raise Invalid("passwords differ", code="passwords_differ")
        await service.verify_current_password(agent, data, cost=cost)
        await service.change_password(
            session, agent, data, keep_token=_session_token(request), cost=cost
        )
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, agent)
        return await _profile_page(request, session, agent, problem=_problem(exc), status=422)
    await uow.commit(session)
    return RedirectResponse("/profile?done=password", status_code=303)


@router.post("/profile/tokens", response_class=HTMLResponse)
async def create_token(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    """A personal API token, shown this once."""
    form = await checked_form(request)
    name = str(form.get("name") or "").strip()[:200] or "api"
    token = await service.issue_token(session, agent, name=name)
    await uow.commit(session)
    return await _profile_page(request, session, agent, new_token=token)


@router.post("/profile/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke_token(
    request: Request, token_id: Id, session: SessionDep, agent: PageAgent
) -> Response:
    await checked_form(request)
    await service.revoke_token_by_id(session, agent, token_id)
    await uow.commit(session)
    return RedirectResponse("/profile?done=revoked", status_code=303)


def _session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


async def _profile_page(
    request: Request, session: AsyncSession, agent: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    context = {
        "tokens": await service.list_tokens(session, agent),
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "errors_text": PEOPLE_ERRORS,
        **extra,
    }
    return render(request, "profile.html", context, agent=agent, status=status)
