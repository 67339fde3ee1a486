"""Inboxes (admins manage them) and the API channel's signed inbound endpoint."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels import repository, service
from frontdesk.channels.base import Inbound, adapter_for
from frontdesk.channels.schemas import InboxCreate, InboxRead, InboxUpdate
from frontdesk.conversations.receiving import Received
from frontdesk.conversations.schemas import InboundAccepted
from frontdesk.deps import AdminAgent, CurrentAgent, RuntimeDep, SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, Invalid, NotFound, Unauthorized, Unavailable
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)

router = APIRouter(tags=["inboxes"])


@router.get("/inboxes", response_model=Page[InboxRead])
async def list_inboxes(
    session: SessionDep, agent: CurrentAgent, cursor: str | None = None, limit: int | None = None
) -> Page[InboxRead]:
    size = clamp_limit(limit)
    rows = await repository.list_inboxes(
        session,
        only=await service.visible_inbox_ids(session, agent),
        after=decode_cursor(cursor),
        limit=size,
    )
    items = [await service.read_inbox(session, row, agent=agent) for row in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == size else None)


@router.post("/inboxes", response_model=InboxRead, status_code=201)
async def create_inbox(
    data: InboxCreate, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> InboxRead:
    inbox = await service.create_inbox(session, data, runtime.settings)
    await uow.commit(session)
    return await service.read_inbox(session, inbox, agent=admin)


@router.get("/inboxes/{inbox_id}", response_model=InboxRead)
async def read_inbox(inbox_id: int, session: SessionDep, agent: CurrentAgent) -> InboxRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=agent)
    return await service.read_inbox(session, inbox, agent=agent)


@router.patch("/inboxes/{inbox_id}", response_model=InboxRead)
async def update_inbox(
    inbox_id: int, data: InboxUpdate, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> InboxRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await service.update_inbox(session, inbox, data, runtime.settings)
    await uow.commit(session)
    runtime.inboxes.forget(inbox.id)
    return await service.read_inbox(session, inbox, agent=admin)


@router.delete("/inboxes/{inbox_id}", status_code=204)
async def delete_inbox(
    inbox_id: int, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> None:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await service.deactivate_inbox(session, inbox)
    await uow.commit(session)
    runtime.inboxes.forget(inbox.id)


@router.post(
    "/inboxes/{inbox_id}/inbound",
    response_model=InboundAccepted,
    status_code=202,
    responses={401: {}, 404: {}, 413: {}, 422: {}, 503: {}},
)
async def inbound(inbox_id: int, request: Request) -> JSONResponse:
    """Signed inbound message (X-Frontdesk-Signature: sha256=HMAC(inbox secret, raw body)).
    Answers 202 only once the message is committed; a repeat answers `duplicate: true`."""
    # The hot path: no dependencies to solve, no request session (the ingestor writes).
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    inbox = await runtime.inboxes.get(inbox_id)
    if inbox is None or not inbox.active:
        raise NotFound("inbox not found", code="unknown_inbox")
    adapter = adapter_for(inbox.channel)
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
