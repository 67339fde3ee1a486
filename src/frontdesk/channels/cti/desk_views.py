"""The screen pop in the desktop: GET /desk/pop/{message_id} renders the caller of a call
(their cross-channel timeline, or for a new number a form to complete the customer), and
POST /desk/pop/{message_id}/customer saves that form. desk.js loads the pop when the event
`call.screen_pop` names the signed-in agent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from frontdesk.conversations import calls
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Message
from frontdesk.customers import service as customers
from frontdesk.customers.schemas import CustomerUpdate, IdentityCreate
from frontdesk.deps import SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, NotFound
from frontdesk.kit.schemas import Id
from frontdesk.web.rendering import PageAgent, check_csrf, render

router = APIRouter(include_in_schema=False)
# The pop shows the caller's latest items; the customer page has the rest.
POP_ITEMS = 8


async def _call(session: SessionDep, message_id: int, agent: PageAgent) -> Message:
    """A call the agent may see (its conversation's visibility), else 404."""
    message = await conversations_repository.get_message(session, message_id)
    if message is None or message.kind != calls.CALL_KIND:
        raise NotFound("call not found")
    await conversations.get_or_raise(session, message.conversation_id, agent=agent)
    return message


@router.get("/desk/pop/{message_id}", response_class=HTMLResponse)
async def screen_pop(
    request: Request, message_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    message = await _call(session, message_id, agent)
    customer = await customers.get_or_raise(session, message.customer_id, agent=agent)
    profile = await customers.read(session, customer)
    timeline = await customers.timeline(session, customer, agent=agent, after=None, limit=500)
    others = [item for item in timeline if item.id != message.id]
    call = message.meta.get("call") or {}
    number = call.get("from_number") if message.direction == "inbound" else call.get("to_number")
    return render(
        request,
        "_screen_pop.html",
        {
            "message": message,
            "customer": profile,
            "number": number,
            "known": bool(others) or len(profile.identities) > 1,
            "items": others[-POP_ITEMS:],
            "error": request.query_params.get("error"),
        },
        agent=agent,
    )


@router.post("/desk/pop/{message_id}/customer")
async def complete_customer(
    request: Request,
    message_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    """A new caller becomes a customer with a name (and an e-mail address, if given)."""
    check_csrf(request, csrf)
    message = await _call(session, message_id, agent)
    customer = await customers.get_or_raise(session, message.customer_id, agent=agent)
    try:
        if name.strip():
            await customers.update_customer(
                session, customer, CustomerUpdate(name=name.strip()[:300])
            )
        if email.strip():
            await customers.add_identity(session, customer, IdentityCreate(address=email.strip()))
    except (FrontdeskError, ValidationError) as exc:
        code = exc.code if isinstance(exc, FrontdeskError) else "invalid_input"
        return RedirectResponse(f"/customers/{customer.id}?error={code}", status_code=303)
    await uow.commit(session)
    return RedirectResponse(f"/customers/{customer.id}", status_code=303)
