"""The provider's webhooks for a voice inbox, all form-encoded and signed with
X-Twilio-Signature over the URL called: POST /webhooks/voice/{inbox_id} (the inbox's
`webhook_url`: an incoming call, answered with TwiML), the IVR's actions below it
(/language, /menu, /wait, /hold, /dialed, /voicemail, /outbound), and the callbacks
(/status, /agent-leg, /recording). Agents' routes: click-to-call and answering a call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.channels.voice import pause, repository, service
from frontdesk.channels.voice.adapter import settings_of, voice_channel
from frontdesk.channels.voice.models import VoiceCall
from frontdesk.channels.voice.service import Step
from frontdesk.channels.voice.tasks import DIAL_JOB
from frontdesk.conversations import calls
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.schemas import ConversationUpdate
from frontdesk.deps import CurrentAgent, RuntimeDep, SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import jobs, uow
from frontdesk.kit.errors import (
    Conflict,
    Forbidden,
    FrontdeskError,
    Invalid,
    NotFound,
    Unavailable,
)
from frontdesk.kit.schemas import Id
from frontdesk.kit.twilio import SIGNATURE_HEADER
from frontdesk.runtime import Runtime
from frontdesk.web.rendering import PageAgent, check_csrf

router = APIRouter(tags=["voice"])
api_router = APIRouter(tags=["voice"])
MAX_BODY = 64 * 1024
TWIML = "text/xml"


async def _signed(request: Request, inbox_id: int) -> Step:
    """The call step of a request the provider signed for this exact URL (403 otherwise)."""
    runtime: Runtime = request.app.state.runtime
    cached = await runtime.inboxes.get(inbox_id)
    if cached is None or not cached.active or cached.channel != voice_channel.channel:
        raise NotFound("inbox not found", code="unknown_inbox")
    line = service.line_of(runtime, cached)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise FrontdeskError("webhook body is too large", code="too_large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        pairs = None
    # The provider signs the URL it called: BASE_URL + this path (+ the query string).
    url = runtime.settings.base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    given = request.headers.get(SIGNATURE_HEADER)
    if pairs is None or not voice_channel.check_signature(line.inbox, url, pairs, given):
        raise Forbidden("X-Twilio-Signature missing or wrong", code="bad_signature")
    return Step(runtime, line, dict(pairs), dict(request.query_params))


async def _taken(
    request: Request, inbox_id: int, route: str, work: Callable[[Step], Awaitable[str]]
) -> str:
    """Run one step; a signed webhook we cannot read is quarantined and answered 422."""
    try:
        step = await _signed(request, inbox_id)
    except FrontdeskError:
        raise
    except Exception as exc:
        if not uow.is_temporary(exc):
            raise
        # The inbox could not be read (SQLite busy past its timeout): the provider retries.
        raise Unavailable("busy; try again", code="unavailable") from exc
    try:
        return await work(step)
    except FrontdeskError as exc:
        if not isinstance(exc, Invalid):
            raise

        async with step.runtime.db.session() as session:
            repository.quarantine(
                session, step.inbox.id, route=route, reason=exc.message, params=step.params
            )
            await uow.commit(session)
        raise
    except Exception as exc:
        if not uow.is_temporary(exc):
            raise
        # Nothing of this step was committed; the provider may try again.
        raise Unavailable("busy; try again", code="unavailable") from exc


def _route(path: str, route: str, work: Callable[[Step], Awaitable[str]], *, xml: bool) -> None:
    async def endpoint(inbox_id: Id, request: Request) -> Response:
        answer = await _taken(request, inbox_id, route, work)
        if xml:
            return Response(answer, media_type=TWIML)
        return JSONResponse({"ok": True, "outcome": answer})

    endpoint.__name__ = f"voice_{route.replace('-', '_')}"
    endpoint.__doc__ = work.__doc__
    router.add_api_route(
        f"/webhooks/voice/{{inbox_id}}{path}", endpoint, methods=["POST"],
        responses={403: {}, 404: {}, 422: {}}, include_in_schema=False,
    )  # fmt: skip


for _path, _name, _work, _xml in (
    ("", "incoming", service.incoming, True),
    ("/language", "language", service.chose_language, True),
    ("/menu", "menu", service.chose_queue, True),
    ("/wait", "wait", service.wait, True),
    ("/hold", "hold", service.hold_key, True),
    ("/dialed", "dialed", service.dialed, True),
    ("/voicemail", "voicemail", service.voicemail_left, True),
    ("/outbound", "outbound", service.outbound_answered, True),
    ("/status", "status", service.call_status, False),
    ("/agent-leg", "agent-leg", service.agent_answered, False),
    ("/recording", "recording", service.recording_ready, False),
):
    _route(_path, _name, _work, xml=_xml)


class CallPlaced(BaseModel):
    message_id: int
    conversation_id: int
    status: str
    to_number: str


@api_router.post(
    "/conversations/{conversation_id}/calls",
    response_model=CallPlaced,
    status_code=201,
    responses={404: {}, 409: {}, 422: {}},
)
async def place_call(conversation_id: Id, session: SessionDep, agent: CurrentAgent) -> CallPlaced:
    """Click-to-call: the provider calls the conversation's customer from the voice
    inbox's number; when they pick up, the agent's softphone (client agent-ID) rings."""
    message, to_number = await _place(session, conversation_id, agent)
    await uow.commit(session)
    return CallPlaced(
        message_id=message.id, conversation_id=message.conversation_id, status="ringing",
        to_number=to_number,
    )  # fmt: skip


class CallAnswered(BaseModel):
    message_id: int
    conversation_id: int
    agent_id: int


@api_router.post(
    "/calls/{message_id}/answer", response_model=CallAnswered, responses={404: {}, 409: {}}
)
async def answer_call(message_id: Id, session: SessionDep, agent: CurrentAgent) -> CallAnswered:
    """Take a waiting call: its conversation is assigned to the agent, and the caller is
    put through to the agent's softphone at their next turn (within one hold loop)."""
    conversation = await _answer(session, message_id, agent)
    await uow.commit(session)
    return CallAnswered(message_id=message_id, conversation_id=conversation.id, agent_id=agent.id)


async def _place(session: AsyncSession, conversation_id: int, agent: Agent) -> tuple[Message, str]:
    """The outbound call message and its dial job (the caller commits)."""
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    if inbox is None or inbox.channel != voice_channel.channel:
        raise Invalid("calls are placed from a voice inbox's conversation", code="not_voice")
    if not inbox.active:
        raise Conflict("this inbox is deactivated", code="inbox_inactive")
    phone = await calls.phone_of(session, conversation.customer_id)
    if phone is None:
        raise Invalid("this customer has no phone number", code="no_phone")
    message = await calls.place_call(
        session, conversation, agent=agent, identity_id=phone.id,
        from_number=settings_of(inbox).phone_number, to_number=phone.address,
    )  # fmt: skip
    row = VoiceCall(
        inbox_id=inbox.id, call_sid=f"pending:{message.id}", message_id=message.id,
        conversation_id=conversation.id, direction="outbound", state="dialing",
        queue_id=0, agent_id=agent.id,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await jobs.enqueue(session, DIAL_JOB, {"call_id": row.id}, key=f"{DIAL_JOB}:{row.id}")
    return message, phone.address


async def _answer(session: AsyncSession, message_id: int, agent: Agent) -> Conversation:
    """Assign a waiting call's conversation to the agent (the caller commits)."""
    message = await conversations_repository.get_message(session, message_id)
    if message is None or message.kind != calls.CALL_KIND:
        raise NotFound("call not found")
    conversation = await conversations.get_or_raise(session, message.conversation_id, agent=agent)
    row = await repository.get_call_of_message(session, message.id)
    if row is None or row.state != "queued":
        raise Conflict("this call is not waiting for an agent", code="call_not_waiting")
    return await conversations.update(
        session, conversation, ConversationUpdate(assignee_id=agent.id), by=agent
    )


@router.post("/conversations/{conversation_id}/call", include_in_schema=False)
async def call_from_desk(
    request: Request,
    conversation_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    """The desktop's Call button (click-to-call)."""
    check_csrf(request, csrf)
    await _place(session, conversation_id, agent)
    await uow.commit(session)
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


@router.post("/calls/{message_id}/take", include_in_schema=False)
async def take_from_desk(
    request: Request,
    message_id: Id,
    session: SessionDep,
    agent: PageAgent,
    csrf: Annotated[str, Form()],
) -> Response:
    """The desktop's Answer button on a waiting call."""
    check_csrf(request, csrf)
    conversation = await _answer(session, message_id, agent)
    await uow.commit(session)
    return RedirectResponse(f"/conversations/{conversation.id}", status_code=303)


class RecordingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # "paused" while the agent takes a payment; "in-progress" resumes.
    status: Literal["paused", "in-progress"]


class RecordingState(BaseModel):
    message_id: int
    recording_paused: bool


@api_router.post(
    "/calls/{message_id}/recording",
    response_model=RecordingState,
    responses={404: {}, 409: {}, 422: {}, 503: {}},
)
async def change_recording(
    message_id: Id,
    data: RecordingChange,
    session: SessionDep,
    agent: CurrentAgent,
    runtime: RuntimeDep,
) -> RecordingState:
    """Pause the call's recording while the agent takes a payment, then resume it."""
    paused = data.status == "paused"
    await pause.set_paused(session, message_id, agent=agent, app=runtime.settings, paused=paused)
    await uow.commit(session)
    return RecordingState(message_id=message_id, recording_paused=paused)


@router.post("/calls/{message_id}/payment", include_in_schema=False)
async def payment_from_desk(
    request: Request,
    message_id: Id,
    session: SessionDep,
    agent: PageAgent,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form()],
    action: Annotated[Literal["start", "done"], Form()],
) -> Response:
    """The desktop's Take payment (pause the recording) and Resume recording buttons."""
    check_csrf(request, csrf)
    message = await pause.set_paused(
        session, message_id, agent=agent, app=runtime.settings, paused=action == "start"
    )
    await uow.commit(session)
    return RedirectResponse(f"/conversations/{message.conversation_id}", status_code=303)
