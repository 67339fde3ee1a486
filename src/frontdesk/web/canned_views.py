"""Canned responses: the agent's own and the shared ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from frontdesk.deps import SessionDep
from frontdesk.desk import service as desk
from frontdesk.desk.schemas import CannedCreate
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.schemas import Id
from frontdesk.web.rendering import PageAgent, check_csrf, render

router = APIRouter(include_in_schema=False)


@router.get("/canned", response_class=HTMLResponse)
async def canned_page(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    return render(
        request,
        "canned.html",
        {
            "items": await desk.list_canned(session, agent),
            "error": request.query_params.get("error"),
        },
        agent=agent,
    )


@router.post("/canned")
async def create_canned(
    request: Request,
    session: SessionDep,
    agent: PageAgent,
    shortcut: Annotated[str, Form()],
    title: Annotated[str, Form()],
    text: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    shared: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        data = CannedCreate(shortcut=shortcut, title=title, text=text, shared=shared == "on")
        await desk.create_canned(session, agent, data)
    except ValidationError:
        return RedirectResponse("/canned?error=invalid", status_code=303)
    except FrontdeskError as exc:
        return RedirectResponse(f"/canned?error={exc.code}", status_code=303)
    await uow.commit(session)
    return RedirectResponse("/canned", status_code=303)


@router.post("/canned/{canned_id}/delete")
async def delete_canned(
    request: Request,
    canned_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    row = await desk.get_canned_or_raise(session, canned_id, agent=agent)
    try:
        await desk.delete_canned(session, row, agent=agent)
    except FrontdeskError as exc:
        return RedirectResponse(f"/canned?error={exc.code}", status_code=303)
    await uow.commit(session)
    return RedirectResponse("/canned", status_code=303)
