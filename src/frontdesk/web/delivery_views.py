"""Send a failed reply again from the timeline: the one action a delivery failure offers
when sending again can help (the failure's sentence says when, web.delivery_text)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from frontdesk.conversations import service as conversations
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import Conflict
from frontdesk.kit.schemas import Id
from frontdesk.web.rendering import PageAgent, check_csrf, secure_headers

router = APIRouter(include_in_schema=False)


@router.post("/conversations/{conversation_id}/messages/{message_id}/retry")
async def retry_message(
    request: Request,
    conversation_id: Id,
    message_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    try:
        await conversations.retry_delivery(session, conversation, message_id)
    except Conflict:
        pass  # sent again already (a double click, another agent): the timeline shows it
    else:
        await uow.commit(session)
    if request.headers.get("hx-request"):
        response = Response(status_code=204, headers={"hx-trigger": "fd:refresh"})
        secure_headers(response)
        return response
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)
