"""The gateway's webhooks: POST /webhooks/sms_gateway/{inbox_id} (the inbox's `webhook_url`:
incoming messages) and .../status (delivery reports), JSON signed per the inbox's `signing`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.sms_gateway import service
from frontdesk.channels.sms_gateway.adapter import MAX_BODY, sms_gateway_channel
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_cached
from frontdesk.kit.errors import FrontdeskError, NotFound, Unauthorized
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime

router = APIRouter(tags=["sms_gateway"])


async def _signed(request: Request, inbox_id: Id) -> tuple[Runtime, Inbox, bytes]:
    runtime: Runtime = request.app.state.runtime
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active or inbox.channel != sms_gateway_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    inbox = opened_cached(inbox, runtime.settings)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise FrontdeskError("webhook body is too large", code="too_large")
    if not sms_gateway_channel.check_signature(inbox, dict(request.headers), body):
        raise Unauthorized("signature missing or wrong", code="bad_signature")
    return runtime, inbox, body


@router.post("/webhooks/sms_gateway/{inbox_id}", responses={400: {}, 401: {}, 404: {}, 422: {}})
async def incoming(inbox_id: Id, request: Request) -> JSONResponse:
    """An incoming SMS; 200 only once committed, repeats of one id stored once."""
    runtime, inbox, body = await _signed(request, inbox_id)
    received = await service.take_message(runtime, inbox, body)
    outcome = "duplicate" if received.duplicate else "stored"
    MESSAGES.labels(direction="inbound", outcome=outcome).inc()
    return JSONResponse({"ok": True, "outcome": outcome, "message_id": received.message.id})


@router.post(
    "/webhooks/sms_gateway/{inbox_id}/status", responses={400: {}, 401: {}, 404: {}, 422: {}}
)
async def status_report(inbox_id: Id, request: Request) -> JSONResponse:
    runtime, inbox, body = await _signed(request, inbox_id)
    outcome = await service.take_status(runtime, inbox, body)
    return JSONResponse({"ok": True, "outcome": outcome})
