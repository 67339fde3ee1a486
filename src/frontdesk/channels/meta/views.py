"""The Graph API webhook of a Messenger or Instagram inbox — GET /webhooks/meta/{inbox_id}
(the subscription handshake) and POST (signed notifications) — and the agent's actions on a
public comment: POST /api/v1/conversations/{id}/public-actions."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.meta import actions, service
from frontdesk.channels.meta.adapter import CHANNELS, MetaChannel
from frontdesk.channels.meta.schemas import PublicAction, PublicActionRead
from frontdesk.deps import CurrentAgent, RuntimeDep, SessionDep
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_cached
from frontdesk.kit import uow
from frontdesk.kit.errors import Forbidden, FrontdeskError, NotFound, Unauthorized
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime
from frontdesk.web.rendering import PageAgent, check_csrf

router = APIRouter(tags=["meta"])
api_router = APIRouter(tags=["meta"])


async def _inbox(runtime: Runtime, inbox_id: Id) -> tuple[Inbox, MetaChannel]:
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active or inbox.channel not in CHANNELS:
        raise NotFound("inbox not found", code="unknown_inbox")
    return opened_cached(inbox, runtime.settings), CHANNELS[inbox.channel]


@router.get("/webhooks/meta/{inbox_id}", responses={403: {}, 404: {}})
async def subscribe(inbox_id: Id, request: Request) -> PlainTextResponse:
    """The subscription handshake: echo `hub.challenge` when `hub.verify_token` matches."""
    inbox, _ = await _inbox(request.app.state.runtime, inbox_id)
    params = request.query_params
    expected = str(inbox.settings.get("verify_token") or "")
    given = params.get("hub.verify_token") or ""
    if (
        params.get("hub.mode") != "subscribe"
        or not expected
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise Forbidden("verify token missing or wrong", code="bad_verify_token")
    return PlainTextResponse(params.get("hub.challenge") or "")


@router.post("/webhooks/meta/{inbox_id}", responses={400: {}, 401: {}, 404: {}, 422: {}, 502: {}})
async def webhook(inbox_id: Id, request: Request) -> JSONResponse:
    """A notification from Meta, checked by X-Hub-Signature-256. Answers 200 only once all
    it carries is committed; a repeat answers 200 again and stores nothing."""
    runtime: Runtime = request.app.state.runtime
    inbox, channel = await _inbox(runtime, inbox_id)
    body = await request.body()
    if not channel.verify(inbox, dict(request.headers), body):
        raise Unauthorized("signature missing or wrong", code="bad_signature")
    taken = await service.take_webhook(runtime, inbox, channel, body)
    if taken.stored:
        MESSAGES.labels(direction="inbound", outcome="stored").inc(taken.stored)
    if taken.duplicate:
        MESSAGES.labels(direction="inbound", outcome="duplicate").inc(taken.duplicate)
    if taken.refused:
        MESSAGES.labels(direction="inbound", outcome="refused").inc(len(taken.refused))
    return JSONResponse(
        {
            "ok": True,
            "stored": taken.stored,
            "duplicate": taken.duplicate,
            "statuses": taken.statuses,
            "ignored": taken.ignored,
            "refused": [
                {"id": mid, "code": exc.code, "message": exc.message} for mid, exc in taken.refused
            ],
        }
    )


@api_router.post(
    "/conversations/{conversation_id}/public-actions",
    response_model=PublicActionRead,
    status_code=201,
    responses={404: {}, 409: {}, 422: {}, 502: {}},
)
async def public_action(
    conversation_id: Id,
    data: PublicAction,
    session: SessionDep,
    agent: CurrentAgent,
    runtime: RuntimeDep,
) -> PublicActionRead:
    """On a public conversation (a Page or Instagram comment): reply publicly, hide or show
    the comment, or reply privately (a message to its author, in a private conversation that
    links back to the comment)."""
    done = await actions.act(session, conversation_id, data, agent=agent, app=runtime.settings)
    await uow.commit(session)
    return done


@router.post("/conversations/{conversation_id}/public-action", include_in_schema=False)
async def public_action_form(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form()],
    action: Annotated[Literal["reply_publicly", "hide", "unhide", "reply_privately"], Form()],
    text: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """The desktop's buttons on a public conversation (reply publicly / hide / reply
    privately); a private reply opens the private conversation it went to."""
    check_csrf(request, csrf)
    try:
        done = await actions.act(
            session, conversation_id, PublicAction(action=action, text=text),
            agent=agent, app=runtime.settings,
        )  # fmt: skip
    except FrontdeskError as exc:
        return RedirectResponse(f"/conversations/{conversation_id}?error={exc.code}", 303)
    await uow.commit(session)
    target = done.conversation_id or conversation_id
    return RedirectResponse(f"/conversations/{target}", status_code=303)
