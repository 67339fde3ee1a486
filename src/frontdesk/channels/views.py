"""The signed HTTP inbound route that channels share: POST /api/v1/inboxes/{id}/inbound.
Each channel's adapter verifies its own credential and parses its own wire format; a channel
whose messages come another way (a socket, a provider's webhook in its own package) refuses
every request here in `verify`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.conversations.schemas import InboundAccepted
from frontdesk.inboxes.port import adapter_for
from frontdesk.inboxes.secrets import opened_cached
from frontdesk.kit.errors import NotFound, Unauthorized
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime

router = APIRouter(tags=["inboxes"])


@router.post(
    "/inboxes/{inbox_id}/inbound",
    response_model=InboundAccepted,
    status_code=202,
    responses={401: {}, 404: {}, 413: {}, 422: {}, 503: {}},
)
async def inbound(inbox_id: Id, request: Request) -> JSONResponse:
    """Signed inbound message (X-Frontdesk-Signature: sha256=HMAC(inbox secret, raw body)).
    Answers 202 only once the message is committed; a repeat answers `duplicate: true`."""
    # The hot path: no dependencies to solve, no request session (the ingestor writes).
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active:
        raise NotFound("inbox not found", code="unknown_inbox")
    adapter = adapter_for(inbox.channel)
    inbox = opened_cached(inbox, runtime.settings)
    if not adapter.verify(inbox, dict(request.headers), body):
        raise Unauthorized("signature missing or wrong", code="bad_signature")
    parsed = adapter.parse_inbound(inbox, body, runtime.settings)
    received = await runtime.ingestor.take(parsed)
    MESSAGES.labels(
        direction="inbound", outcome="duplicate" if received.duplicate else "stored"
    ).inc()
    result = InboundAccepted(
        message_id=received.message.id,
        conversation_id=received.conversation.id,
        customer_id=received.message.customer_id,
        duplicate=received.duplicate,
    )
    return JSONResponse(result.model_dump(), status_code=202)
