"""Inboxes (admins manage them) and the API channel's signed inbound endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels import repository, service
from frontdesk.channels.base import adapter_for
from frontdesk.channels.schemas import InboxCreate, InboxRead, InboxUpdate
from frontdesk.conversations.schemas import InboundAccepted
from frontdesk.deps import AdminAgent, CurrentAgent, RuntimeDep, SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound, Unauthorized
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id
from frontdesk.runtime import Runtime

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
async def read_inbox(inbox_id: Id, session: SessionDep, agent: CurrentAgent) -> InboxRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=agent)
    return await service.read_inbox(session, inbox, agent=agent)


@router.patch("/inboxes/{inbox_id}", response_model=InboxRead)
async def update_inbox(
    inbox_id: Id, data: InboxUpdate, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> InboxRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await service.update_inbox(session, inbox, data, runtime.settings)
    await uow.commit(session)
    runtime.inboxes.forget(inbox.id)
    return await service.read_inbox(session, inbox, agent=admin)


@router.delete("/inboxes/{inbox_id}", status_code=204)
async def delete_inbox(
    inbox_id: Id, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> None:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await service.deactivate_inbox(session, inbox)
    await uow.commit(session)
    runtime.inboxes.forget(inbox.id)


@router.post(
    "/inboxes/{inbox_id}/inbound",
    response_model=InboundAccepted,
    status_code=202,
    responses={401: {}, 404: {}, 413: {}, 422: {}},
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
    if not adapter.verify(inbox, dict(request.headers), body):
        raise Unauthorized("signature missing or wrong", code="bad_signature")
    parsed = adapter.parse_inbound(inbox, body, runtime.settings)
    received = await runtime.ingestor.receive(parsed)
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
