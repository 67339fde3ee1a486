"""The workspace's productivity pages and forms: bulk changes from the list, saved views,
macros (Settings → Macros: the agent's own, and the shared ones admins manage; one click on a
conversation applies one) and the agent's preferences (time zone, browser notifications)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from frontdesk.auth import repository as auth_repository
from frontdesk.conversations import service as conversations
from frontdesk.deps import SessionDep
from frontdesk.desk import workspace
from frontdesk.desk.schemas import (
    BulkUpdate,
    MacroCreate,
    PreferencesUpdate,
    SavedViewCreate,
)
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.schemas import Id
from frontdesk.web.conversation_views import _done
from frontdesk.web.inbox_views import WORKSPACE_ERRORS
from frontdesk.web.rendering import PageAgent, check_csrf, checked_form, render

router = APIRouter(include_in_schema=False)
ZONES = sorted(available_timezones())


def _back(value: str) -> str:
    """A list URL to go back to: our own inbox page only (never another site)."""
    return value if value.startswith("/?") or value == "/" else "/"


@router.post("/conversations/bulk")
async def bulk_form(request: Request, session: SessionDep, agent: PageAgent) -> Response:
    """The list's bulk bar: the ticked rows get one assignment, status or tag, all or none."""
    form = await checked_form(request)
    back = _back(str(form.get("back") or "/"))
    assignee = str(form.get("assignee") or "-")
    ids = [int(str(v)) for v in form.getlist("ids") if str(v).isdigit() and len(str(v)) < 10]
    try:
        data = BulkUpdate(
            ids=ids,
            status=str(form.get("status") or "") or None,  # type: ignore[arg-type]
            assignee_id=int(assignee) if assignee.isdigit() and len(assignee) < 10 else None,
            unassign=assignee == "",
            add_tag=str(form.get("tag") or "").strip() or None,
        )
        await workspace.bulk_update(session, agent, data)
    except ValidationError:
        return _refused(back, "invalid")
    except FrontdeskError as exc:
        return _refused(back, exc.code)
    await uow.commit(session)
    return RedirectResponse(back, status_code=303)


def _refused(back: str, code: str) -> Response:
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}bulk_error={code}", status_code=303)


@router.post("/views")
async def save_view(request: Request, session: SessionDep, agent: PageAgent) -> Response:
    """Save the list's current query under a name: for me, a team of mine, or everyone."""
    form = await checked_form(request)
    query = str(form.get("query") or "")
    share = str(form.get("share") or "")
    team = share.removeprefix("team:")
    try:
        data = SavedViewCreate(
            name=str(form.get("name") or ""),
            query=query,
            shared=share == "all",
            team_id=int(team) if share.startswith("team:") and team.isdigit() else None,
        )
        row = await workspace.create_view(session, agent, data)
    except ValidationError:
        return _refused("/?" + query, "invalid")
    except FrontdeskError as exc:
        return _refused("/?" + query, exc.code)
    await uow.commit(session)
    return RedirectResponse("/?" + row.query, status_code=303)


@router.post("/views/{view_id}/delete")
async def delete_view(
    request: Request,
    view_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    row = await workspace.get_view_or_raise(session, view_id, agent=agent)
    try:
        await workspace.delete_view(session, row, agent=agent)
    except FrontdeskError as exc:
        return _refused("/", exc.code)
    await uow.commit(session)
    return RedirectResponse("/", status_code=303)


@router.post("/conversations/{conversation_id}/macro")
async def apply_macro_form(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
    macro: Annotated[str, Form()] = "",
) -> Response:
    """One click: the macro's reply, status, tags and assignment on this conversation."""
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    if not macro.isdigit() or len(macro) > 9:
        return _done(request, conversation_id, "no_macro", lang=agent.language)
    chosen = await workspace.get_macro_or_raise(session, int(macro), agent=agent)
    try:
        await workspace.apply_macro(session, chosen, conversation, agent=agent)
    except FrontdeskError as exc:
        return _done(request, conversation_id, exc.code, lang=agent.language)
    await uow.commit(session)
    return _done(request, conversation_id)


@router.get("/settings/macros", response_class=HTMLResponse)
async def macros_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    agents = await auth_repository.list_agents(session, after=None, limit=1000)
    return render(
        request,
        "settings_macros.html",
        {
            "items": await workspace.list_macros(session, agent),
            "agents": [a for a in agents if a.active],
            "names": {a.id: a.name for a in agents},
            "error": request.query_params.get("error"),
            "macro_errors": WORKSPACE_ERRORS,
        },
        agent=agent,
    )


@router.post("/settings/macros")
async def create_macro(request: Request, session: SessionDep, agent: PageAgent) -> Response:
    form = await checked_form(request)
    assign = str(form.get("assign") or "keep")
    assignee = None
    if assign.isdigit() and len(assign) < 10:
        assign, assignee = "agent", int(assign)
    try:
        data = MacroCreate(
            name=str(form.get("name") or ""),
            text=str(form.get("text") or ""),
            status=str(form.get("status") or "") or None,  # type: ignore[arg-type]
            priority=str(form.get("priority") or "") or None,  # type: ignore[arg-type]
            tags=[t.strip() for t in str(form.get("tags") or "").split(",") if t.strip()],
            assign=assign,  # type: ignore[arg-type]
            assignee_id=assignee,
            shared=form.get("shared") == "on",
        )
        await workspace.create_macro(session, agent, data)
    except ValidationError:
        return RedirectResponse("/settings/macros?error=invalid", status_code=303)
    except FrontdeskError as exc:
        return RedirectResponse(f"/settings/macros?error={exc.code}", status_code=303)
    await uow.commit(session)
    return RedirectResponse("/settings/macros", status_code=303)


@router.post("/settings/macros/{macro_id}/delete")
async def delete_macro(
    request: Request,
    macro_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    row = await workspace.get_macro_or_raise(session, macro_id, agent=agent)
    try:
        await workspace.delete_macro(session, row, agent=agent)
    except FrontdeskError as exc:
        return RedirectResponse(f"/settings/macros?error={exc.code}", status_code=303)
    await uow.commit(session)
    return RedirectResponse("/settings/macros", status_code=303)


@router.get("/me/preferences", response_class=HTMLResponse)
async def preferences_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    return render(
        request,
        "preferences.html",
        {
            "current": await workspace.preferences(session, agent),
            "zones": ZONES,
            "saved": request.query_params.get("saved") == "1",
            "error": request.query_params.get("error"),
        },
        agent=agent,
    )


@router.post("/me/preferences")
async def save_preferences(request: Request, session: SessionDep, agent: PageAgent) -> Response:
    form = await checked_form(request)
    try:
        data = PreferencesUpdate(
            time_zone=str(form.get("time_zone") or "UTC"),
            notify=[str(v) for v in form.getlist("notify")],  # type: ignore[misc]
            sound=form.get("sound") == "on",
        )
    except ValidationError:
        return RedirectResponse("/me/preferences?error=invalid", status_code=303)
    await workspace.set_preferences(session, agent, data)
    await uow.commit(session)
    return RedirectResponse("/me/preferences?saved=1", status_code=303)
