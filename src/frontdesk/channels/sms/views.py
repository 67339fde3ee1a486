"""Twilio's webhooks: POST /webhooks/sms/{inbox_id} (the inbox's `webhook_url`: incoming
messages) and POST /webhooks/sms/{inbox_id}/status (delivery status callbacks), both
form-encoded and signed with X-Twilio-Signature."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.sms import service
from frontdesk.channels.sms.adapter import SIGNATURE_HEADER, sms_channel
from frontdesk.deps import AdminAgent, RuntimeDep, SessionDep
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import webhook_url
from frontdesk.inboxes.secrets import opened_cached, opened_inbox
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, NotFound, Unauthorized
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime

router = APIRouter(tags=["sms"])
api_router = APIRouter(tags=["sms"])
# An empty TwiML answer: we reply later, through the REST API, once an agent has written.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_BODY = 256 * 1024


async def _signed(request: Request, inbox_id: Id) -> tuple[Runtime, Inbox, dict[str, str]]:
    """The inbox and the form parameters of a request Twilio signed for this exact URL."""
    runtime: Runtime = request.app.state.runtime
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active or inbox.channel != sms_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    inbox = opened_cached(inbox, runtime.settings)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise FrontdeskError("webhook body is too large", code="too_large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        pairs = None
    # Twilio signs the URL it called, which is BASE_URL + this path (+ any query string).
    url = runtime.settings.base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    given = request.headers.get(SIGNATURE_HEADER)
    if pairs is None or not sms_channel.check_signature(inbox, url, pairs, given):
        raise Unauthorized("X-Twilio-Signature missing or wrong", code="bad_signature")
    return runtime, inbox, dict(pairs)


@router.post("/webhooks/sms/{inbox_id}", responses={401: {}, 404: {}, 422: {}, 502: {}})
async def incoming(inbox_id: Id, request: Request) -> Response:
    """An incoming SMS or MMS. Answers (empty TwiML) only once it is committed; Twilio's
    retries of the same MessageSid are stored once."""
    runtime, inbox, params = await _signed(request, inbox_id)
    received = await service.take_message(runtime, inbox, params)
    outcome = "duplicate" if received.duplicate else "stored"
    MESSAGES.labels(direction="inbound", outcome=outcome).inc()
    return Response(EMPTY_TWIML, media_type="text/xml", headers={"X-Frontdesk-Outcome": outcome})


@router.post("/webhooks/sms/{inbox_id}/status", responses={401: {}, 404: {}, 422: {}})
async def status_callback(inbox_id: Id, request: Request) -> JSONResponse:
    """A delivery status (queued, sent, delivered, undelivered, failed with ErrorCode)."""
    runtime, inbox, params = await _signed(request, inbox_id)
    outcome = await service.take_status(runtime, inbox, params)
    return JSONResponse({"ok": True, "outcome": outcome})


class ConnectionChecked(BaseModel):
    ok: bool
    # The account's name and status as the provider reports them (e.g. "active").
    account_name: str | None
    account_status: str | None
    # What to paste into the number's "A message comes in" webhook in the provider's console.
    webhook_url: str | None


@api_router.post(
    "/inboxes/{inbox_id}/sms/check",
    response_model=ConnectionChecked,
    responses={403: {}, 404: {}, 422: {}},
)
async def check_connection(
    inbox_id: Id, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> ConnectionChecked:
    """Test connection: fetch the account (GET /2010-04-01/Accounts/{sid}.json) with the
    inbox's credentials; a refusal answers 422 provider_refused with the provider's words.
    The same check as POST /inboxes/{id}/check, in this route's older shape."""
    inbox = await inboxes.get_inbox_or_raise(session, inbox_id, agent=admin)
    if inbox.channel != sms_channel.channel:
        raise NotFound("inbox not found")
    await uow.end_read(session)
    found = await sms_channel.check_connection(
        opened_inbox(inbox, runtime.settings), runtime.settings
    )
    return ConnectionChecked(
        ok=found.ok,
        account_name=found.facts.get("account_name"),
        account_status=found.facts.get("account_status"),
        webhook_url=webhook_url(inbox, runtime.settings),
    )
