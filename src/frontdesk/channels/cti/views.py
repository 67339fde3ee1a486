"""The CTI routes: POST /webhooks/cti/{inbox_id} (the PBX's signed call events: the
inbox's `webhook_url`) and POST /api/v1/inboxes/{id}/cti/calls (click-to-call from the
agent's own extension, through AMI)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from frontdesk.channels.cti import service
from frontdesk.channels.cti.adapter import cti_channel, settings_of
from frontdesk.channels.cti.schemas import CtiAccepted, CtiEvent, OriginateCreate, OriginateQueued
from frontdesk.channels.cti.tasks import ORIGINATE_JOB
from frontdesk.deps import CurrentAgent, RuntimeDep, SessionDep
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.secrets import opened_cached, opened_inbox
from frontdesk.kit import jobs, uow
from frontdesk.kit.errors import (
    Conflict,
    Invalid,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
    invalid_input,
)
from frontdesk.kit.schemas import Id
from frontdesk.kit.security import loads
from frontdesk.runtime import Runtime

api_router = APIRouter(tags=["cti"])
router = APIRouter(tags=["cti"])
MAX_BODY = 16 * 1024


@router.post(
    "/webhooks/cti/{inbox_id}",
    response_model=CtiAccepted,
    status_code=202,
    responses={401: {}, 404: {}, 413: {}, 422: {}, 503: {}},
    include_in_schema=False,
)
async def cti_event(inbox_id: Id, request: Request) -> JSONResponse:
    """A PBX call event (offered, answered, ended, transferred), signed
    X-Frontdesk-Signature: sha256=HMAC-SHA256(signing_secret, raw body). Answered 202 once
    committed; the call is stored once per `call_id`, and a repeated event changes nothing."""
    runtime: Runtime = request.app.state.runtime
    try:
        inbox = await runtime.inboxes.get(inbox_id)
    except Exception as exc:
        if not uow.is_temporary(exc):
            raise
        raise Unavailable("busy; try again", code="unavailable") from exc
    if inbox is None or not inbox.active or inbox.channel != cti_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TooLarge("a call event is at most 16 KiB", code="too_large")
    inbox = opened_cached(inbox, runtime.settings)
    if not cti_channel.signed(inbox, dict(request.headers), body):
        raise Unauthorized("signature missing or wrong", code="bad_signature")
    try:
        event = CtiEvent.model_validate(loads(body))
    except ValidationError as exc:
        raise invalid_input(exc.errors(), where=["body"]) from exc
    except ValueError as exc:
        raise Invalid("body is not valid JSON", code="invalid_payload") from exc
    accepted = await service.apply(runtime, inbox, event)
    return JSONResponse(accepted.model_dump(), status_code=202)


@api_router.post(
    "/inboxes/{inbox_id}/cti/calls",
    response_model=OriginateQueued,
    status_code=202,
    responses={404: {}, 409: {}, 422: {}},
)
async def cti_call(
    inbox_id: Id,
    data: OriginateCreate,
    session: SessionDep,
    agent: CurrentAgent,
    runtime: RuntimeDep,
) -> OriginateQueued:
    """Click-to-call through the PBX: the agent's extension rings, then the number is
    dialled (AMI Originate, by a job)."""
    inbox = opened_inbox(
        await inboxes.get_inbox_or_raise(session, inbox_id, agent=agent), runtime.settings
    )
    if inbox.channel != cti_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    if not settings_of(inbox).ami_host:
        raise Conflict("this inbox has no AMI connection", code="no_ami")
    if not agent.extension:
        raise Conflict("you have no phone extension", code="no_extension")
    number = cti_channel.caller_address(inbox, data.number)
    await jobs.enqueue(
        session, ORIGINATE_JOB,
        {"inbox_id": inbox.id, "extension": agent.extension, "number": number},
        max_attempts=1,
    )  # fmt: skip
    await uow.commit(session)
    return OriginateQueued(extension=agent.extension, number=number)
