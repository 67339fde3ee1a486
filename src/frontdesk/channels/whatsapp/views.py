"""WhatsApp's webhook (the inbox's `webhook_url`): GET for Meta's verification handshake,
POST for notifications signed with the app secret."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.whatsapp import service
from frontdesk.channels.whatsapp.adapter import whatsapp_channel
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_cached
from frontdesk.kit.errors import Forbidden, NotFound, Unauthorized
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime

router = APIRouter(tags=["whatsapp"])


async def _inbox(request: Request, inbox_id: Id) -> tuple[Runtime, Inbox]:
    runtime: Runtime = request.app.state.runtime
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active or inbox.channel != whatsapp_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    return runtime, opened_cached(inbox, runtime.settings)


@router.get("/webhooks/whatsapp/{inbox_id}", responses={403: {}, 404: {}})
async def verify_subscription(inbox_id: Id, request: Request) -> PlainTextResponse:
    """Meta's handshake: hub.mode=subscribe with our verify token → echo hub.challenge."""
    _, inbox = await _inbox(request, inbox_id)
    challenge = whatsapp_channel.verify_subscription(inbox, dict(request.query_params))
    if challenge is None:
        raise Forbidden("verify token missing or wrong", code="bad_verify_token")
    return PlainTextResponse(challenge)


@router.post(
    "/webhooks/whatsapp/{inbox_id}", responses={400: {}, 401: {}, 404: {}, 422: {}, 502: {}}
)
async def webhook(inbox_id: Id, request: Request) -> JSONResponse:
    """One notification (messages and/or statuses), checked by X-Hub-Signature-256. Answers
    200 only once everything in it is committed; a repeat stores nothing new. A message that
    cannot be stored alone is listed in `refused` (422 if nothing else in it was taken)."""
    runtime, inbox = await _inbox(request, inbox_id)
    body = await request.body()
    if not whatsapp_channel.verify(inbox, dict(request.headers), body):
        raise Unauthorized("X-Hub-Signature-256 missing or wrong", code="bad_signature")
    taken = await service.take_notification(runtime, inbox, body)
    if taken.stored:
        MESSAGES.labels(direction="inbound", outcome="stored").inc(taken.stored)
    if taken.duplicates:
        MESSAGES.labels(direction="inbound", outcome="duplicate").inc(taken.duplicates)
    if taken.refused:
        MESSAGES.labels(direction="inbound", outcome="refused").inc(len(taken.refused))
    return JSONResponse(
        {
            "ok": True,
            "stored": taken.stored,
            "duplicates": taken.duplicates,
            "statuses": taken.statuses,
            "message_ids": taken.message_ids,
            "refused": [
                {"id": wamid, "code": exc.code, "message": exc.message}
                for wamid, exc in taken.refused
            ],
        }
    )
