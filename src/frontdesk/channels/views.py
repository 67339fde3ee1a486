"""The signed HTTP inbound route that channels share: POST /api/v1/inboxes/{id}/inbound.
Each channel's adapter verifies its own credential and parses its own wire format; a channel
whose messages come another way (a socket, a provider's webhook in its own package) refuses
every request here in `verify`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.conversations.receiving import Received
from frontdesk.conversations.schemas import InboundAccepted
from frontdesk.inboxes.port import Inbound, adapter_for
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, Invalid, NotFound, Unauthorized, Unavailable
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)

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
    inbox = opened_inbox(inbox, runtime.settings)
    if not adapter.verify(inbox, dict(request.headers), body):
        raise Unauthorized("signature missing or wrong", code="bad_signature")
    parsed = adapter.parse_inbound(inbox, body, runtime.settings)
    received = await _receive(runtime, parsed)
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


async def _receive(runtime: Runtime, inbound: Inbound) -> Received:
    """Stored, or refused with a clear answer: 503 when a retry can succeed (the database is
    down or busy), 422 when the message failed alone for a reason a retry cannot cure, so a
    client never retries such a message for ever."""
    try:
        return await runtime.ingestor.receive(inbound)
    except FrontdeskError:
        raise
    except Exception as exc:
        if uow.is_temporary(exc):
            log.warning("inbound message not stored yet: %r", exc)
            raise Unavailable("not stored; try again later") from exc
        log.exception("inbound message %r cannot be stored", inbound.external_id)
        raise Invalid("this message cannot be stored", code="not_storable") from exc
