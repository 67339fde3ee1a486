"""The agent's @mentions on the desktop: the header badge (live), the list, mark read.
Every route reads and writes only the logged-in agent's own mentions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from frontdesk.deps import SessionDep
from frontdesk.desk import repository as desk_repository
from frontdesk.desk import service as desk
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.schemas import Id
from frontdesk.web.rendering import PageAgent, check_csrf, render

router = APIRouter(include_in_schema=False)


@router.get("/mentions", response_class=HTMLResponse)
async def mentions_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    items = await desk.list_mentions(session, agent, limit=100)
    return render(request, "mentions.html", {"items": items}, agent=agent)


@router.get("/partials/mentions-badge", response_class=HTMLResponse)
async def mentions_badge(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    """The header's mentions badge, and the tab title's unread count: unread mentions plus
    the agent's open conversations waiting for an answer."""
    count = await desk.unread_mentions(session, agent)
    waiting = await desk_repository.unanswered_mine(
        session, agent.id, visible=await visible_inbox_ids(session, agent)
    )
    return render(
        request, "_mentions_badge.html", {"unread": count, "waiting": waiting}, agent=agent
    )


@router.post("/mentions/{mention_id}/read")
async def read_mention(
    request: Request,
    mention_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    try:
        await desk.mark_mention_read(session, agent, mention_id)
    except FrontdeskError:
        return RedirectResponse("/mentions", status_code=303)
    await uow.commit(session)
    return RedirectResponse("/mentions", status_code=303)


@router.post("/mentions/read")
async def read_all_mentions(
    request: Request, session: SessionDep, agent: PageAgent, csrf: Annotated[str, Form()]
) -> Response:
    check_csrf(request, csrf)
    await desk.mark_mentions_read(session, agent)
    await uow.commit(session)
    return RedirectResponse("/mentions", status_code=303)
