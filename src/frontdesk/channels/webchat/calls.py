"""Browser calls (WebRTC) between a widget visitor and an agent: each call is a message of
kind "call" on the conversation (conversations/calls.py holds its state in meta["call"]),
these are its moves, and the recording the agent's page uploads in numbered chunks.

Media flows browser to browser; the server only relays the signalling (socket.py and
web/socket.py) and stores what the timeline shows. Invariant: a call's signals reach only
the visitor of its conversation and, once answered, only the agent who answered it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.channels.webchat import repository
from frontdesk.channels.webchat.adapter import read_settings, webchat_channel
from frontdesk.channels.webchat.models import CallRecordingChunk
from frontdesk.channels.webchat.service import VisitorInfo, VisitorMessage
from frontdesk.channels.webchat.tokens import VisitorClaims
from frontdesk.config import Settings
from frontdesk.conversations import calls
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.events import record_message
from frontdesk.conversations.models import Conversation, Message
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.kit import jobs
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge

MEDIA = ("audio", "video")
# Why a call ended or never connected; each has a translated sentence on both sides.
REASONS = (
    "hangup", "declined", "cancelled", "no_answer", "peer_offline", "connection_failed",
    "permission_denied", "taken", "unsupported",
)  # fmt: skip
# The sentence each side shows (widget-call.js and web/static/call.js carry the same).
REASON_TEXTS = {
    "hangup": "The call has ended.",
    "declined": "The call was declined.",
    "cancelled": "The call was cancelled.",
    "no_answer": "Nobody answered the call.",
    "peer_offline": "The other side went offline.",
    "connection_failed": "The call could not connect: the network between you blocks it.",
    "permission_denied": "The camera or microphone could not be used (permission denied).",
    "taken": "Another agent answered this call.",
    "unsupported": "This browser cannot make calls.",
    "no_agent_online": "No agent is online to take a call right now.",
    "calls_disabled": "Calls are not available in this chat.",
}
FINAL = ("missed", "ended")
ASSEMBLE_JOB = "webchat.assemble_recording"
RECORDING_TYPES = ("video/webm", "audio/webm")
MAX_CHUNKS = 100_000
# The first bytes of a WebM (Matroska EBML) file: the first chunk must start with them.
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"


def call_of(message: Message) -> dict[str, Any]:
    return dict((message.meta or {}).get("call") or {})


def is_browser_call(message: Message | None) -> bool:
    return bool(
        message is not None
        and message.kind == calls.CALL_KIND
        and message.channel == webchat_channel.channel
        and call_of(message).get("webrtc")
    )


def visitor_call_in(
    inbox: Inbox,
    claims: VisitorClaims,
    *,
    client_id: str,
    media: str,
    app: Settings,
    visitor: VisitorInfo,
) -> VisitorMessage:
    """The call a visitor starts from the widget, as an inbound message (no database)."""
    settings = read_settings(inbox)
    if not settings.calls:
        raise Forbidden("calls are not enabled on this chat", code="calls_disabled")
    if media not in MEDIA:
        raise Invalid("media must be audio or video", code="invalid_media")
    frame: dict[str, str] = {"id": client_id, "text": "call", "from": claims.address}
    if visitor.name:
        frame["name"] = visitor.name
    inbound = webchat_channel.parse_inbound(inbox, json.dumps(frame).encode(), app)
    inbound.text = ""
    inbound.kind = calls.CALL_KIND
    inbound.meta = {
        **inbound.meta,
        "call": {
            "direction": "inbound",
            "status": "ringing",
            "media": media,
            "webrtc": True,
            "recorded": settings.record_calls,
        },
    }
    return VisitorMessage(inbound, visitor.email)


async def place(
    session: AsyncSession, conversation: Conversation, inbox: Inbox, *, agent: Agent, media: str
) -> Message:
    """The agent calls the visitor of a chat: an outbound call message, ringing in the widget
    until the visitor accepts or declines it."""
    settings = read_settings(inbox)
    if not settings.calls:
        raise Forbidden("calls are not enabled on this chat", code="calls_disabled")
    if media not in MEDIA:
        raise Invalid("media must be audio or video", code="invalid_media")
    message = Message(
        conversation_id=conversation.id, inbox_id=conversation.inbox_id,
        customer_id=conversation.customer_id, channel=webchat_channel.channel,
        direction="outbound", author_kind="agent", author_agent_id=agent.id,
        kind=calls.CALL_KIND, text="", delivery_status="sent", answered=False,
        meta={"call": {"direction": "outbound", "status": "ringing", "media": media,
                       "webrtc": True, "recorded": settings.record_calls, "agent_id": agent.id}},
    )  # fmt: skip
    session.add(message)
    await session.flush()
    conversation.last_message_at = conversation.updated_at = utcnow()
    record_message(session, message, conversation, "message.created")
    return message


async def accept_by_visitor(session: AsyncSession, message: Message) -> Message:
    """The visitor takes the agent's call (409 if it rings no more)."""
    call = call_of(message)
    if call.get("status") != "ringing" or message.direction != "outbound":
        raise Conflict("this call is no longer ringing", code="taken")
    return await calls.update_call(
        session, message, status="answered", answered_at=utcnow().isoformat()
    )


async def get_call_or_raise(session: AsyncSession, message_id: int) -> Message:
    message = await conversations_repository.get_message(session, message_id)
    if message is None or not is_browser_call(message):
        raise NotFound("call not found")
    return message


async def visible_call(session: AsyncSession, message_id: int, *, agent: Agent) -> Message:
    """A browser call of a conversation the agent may see (404 otherwise)."""
    message = await get_call_or_raise(session, message_id)
    await conversations.get_or_raise(session, message.conversation_id, agent=agent)
    return message


async def answer(session: AsyncSession, message: Message, *, agent: Agent) -> Message:
    """The agent takes a ringing call: it is theirs alone from now on (409 if taken)."""
    call = call_of(message)
    if call.get("status") != "ringing":
        raise Conflict("this call is no longer ringing", code="taken")
    now = utcnow()
    return await calls.update_call(
        session, message,
        status="answered", agent_id=agent.id, answered_at=now.isoformat(),
        wait_seconds=max(0, int((now - message.created_at).total_seconds())),
    )  # fmt: skip


async def end(session: AsyncSession, message: Message, *, reason: str) -> Message | None:
    """The call is over: ended (with its duration) if it was answered, missed otherwise (the
    conversation then needs a callback). None if it had ended already."""
    call = call_of(message)
    if call.get("status") in FINAL:
        return None
    reason = reason if reason in REASONS else "hangup"
    if call.get("status") != "answered":
        await calls.update_call(session, message, status="missed", end_reason=reason)
        if message.direction == "inbound":
            await calls.flag_callback(session, message, reason=reason)
        return message
    started = _when(call.get("answered_at")) or message.created_at
    duration = max(0, int((utcnow() - started).total_seconds()))
    return await calls.update_call(
        session, message, status="ended", end_reason=reason, duration_seconds=duration,
        ended_at=utcnow().isoformat(),
    )  # fmt: skip


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@dataclass
class ChunkIn:
    seq: int
    content_type: str
    data: bytes


async def store_chunk(
    session: AsyncSession,
    message: Message,
    chunk: ChunkIn,
    *,
    agent: Agent,
    blobs: BlobStore,
    app: Settings,
) -> bool:
    """Keep one numbered piece of the call's recording, once (False: a retry of a piece
    already kept). Only the agent who answered a call that records may upload."""
    call = call_of(message)
    if not call.get("recorded"):
        raise Forbidden("this call is not recorded", code="not_recorded")
    if call.get("agent_id") != agent.id:
        raise Forbidden("only the agent on the call uploads its recording", code="not_your_call")
    if call.get("recording") is not None:
        raise Conflict("this call's recording is stored already", code="recording_closed")
    base_type = chunk.content_type.split(";", 1)[0].strip().lower()
    if base_type != _recording_type(call):
        raise Invalid(f"a recording chunk must be {_recording_type(call)}", code="bad_type")
    if not 0 <= chunk.seq < MAX_CHUNKS:
        raise Invalid("chunk number out of range", code="bad_chunk")
    if not chunk.data:
        raise Invalid("an empty chunk", code="bad_chunk")
    if len(chunk.data) > app.call_recording_chunk_bytes:
        raise TooLarge("this chunk is too large", code="too_large")
    # Chromium's MediaRecorder often hands over the header's first byte alone (0x1A), the
    # rest in the next piece: the first chunk agrees with the magic as far as it goes.
    head = chunk.data[: len(WEBM_MAGIC)]
    if chunk.seq == 0 and WEBM_MAGIC[: len(head)] != head:
        raise Invalid("a recording starts with a WebM header", code="bad_type")
    if await repository.get_chunk(session, message.id, chunk.seq) is not None:
        return False
    count, size, _ = await repository.chunk_totals(session, message.id)
    if size + len(chunk.data) > app.call_recording_max_bytes:
        raise TooLarge("the recording reached its size limit", code="too_large")
    # Durable before the row that names it is committed.
    [key] = await blobs.put_many_async([chunk.data])
    session.add(
        CallRecordingChunk(
            message_id=message.id, seq=chunk.seq, agent_id=agent.id,
            content_type=base_type, size=len(chunk.data), blob_key=key, created_at=utcnow(),
        )
    )  # fmt: skip
    await session.flush()
    if count == 0:
        await schedule_assembly(session, message.id, app=app, generation=0)
    return True


def _recording_type(call: dict[str, Any]) -> str:
    return "video/webm" if call.get("media") == "video" else "audio/webm"


async def schedule_assembly(
    session: AsyncSession, message_id: int, *, app: Settings, generation: int
) -> None:
    """Assemble what was uploaded once no chunk came for a while (a page closed mid-call)."""
    await jobs.enqueue(
        session,
        ASSEMBLE_JOB,
        {"message_id": message_id, "generation": generation},
        key=f"{ASSEMBLE_JOB}:{message_id}:{generation}",
        run_at=utcnow() + timedelta(seconds=app.call_recording_idle_seconds),
    )


async def assemble(session: AsyncSession, message: Message, *, blobs: BlobStore) -> int | None:
    """Join the chunks kept so far, in order, into the call's recording (an attachment of
    the call message named by call.recording); the call ends if it had not. Returns the
    attachment id, or None when there was nothing to assemble."""
    call = call_of(message)
    chunks = await repository.chunks_of(session, message.id)
    if call.get("recording") is not None or not chunks:
        return None
    data = b"".join([blobs.get(c.blob_key) for c in chunks])
    [key] = await blobs.put_many_async([data])
    if call.get("status") not in FINAL:
        await end(session, message, reason="peer_offline")
    row = await calls.attach_recording(
        session, message,
        filename=f"call-{message.id}.webm", content_type=_recording_type(call),
        size=len(data), blob_key=key,
    )  # fmt: skip
    await repository.drop_chunks(session, message.id)
    return row.id


async def assemble_when_idle(
    session: AsyncSession, message_id: int, *, blobs: BlobStore, app: Settings, generation: int
) -> None:
    """The idle check: assemble if no chunk came for the idle time, or look again later."""
    message = await conversations_repository.get_message(session, message_id)
    if message is None or call_of(message).get("recording") is not None:
        return
    count, _, newest = await repository.chunk_totals(session, message_id)
    if count == 0:
        return
    idle = timedelta(seconds=app.call_recording_idle_seconds)
    if newest is not None and utcnow() - newest < idle:
        await schedule_assembly(session, message_id, app=app, generation=generation + 1)
        return
    await assemble(session, message, blobs=blobs)


# Signals either side may send, and what each may carry (anything else is dropped).
SIGNALS = ("offer", "answer", "ice", "hangup", "decline", "fail", "accept", "screen", "ready")
MAX_SDP = 64 * 1024


def clean_signal(data: Any) -> dict[str, Any] | None:
    """A signal from a browser, reduced to the fields its kind carries (None: refused)."""
    if not isinstance(data, dict) or data.get("kind") not in SIGNALS:
        return None
    kind = data["kind"]
    out: dict[str, Any] = {"kind": kind}
    if kind in ("offer", "answer"):
        sdp = data.get("sdp")
        if not isinstance(sdp, str) or not sdp or len(sdp) > MAX_SDP:
            return None
        out["sdp"] = sdp
    elif kind == "ice":
        cand = data.get("candidate")
        if not isinstance(cand, dict) or not isinstance(cand.get("candidate"), str):
            return None
        index = cand.get("sdpMLineIndex")
        out["candidate"] = {
            "candidate": cand["candidate"][:2000],
            "sdpMid": str(cand.get("sdpMid"))[:64] if cand.get("sdpMid") is not None else None,
            "sdpMLineIndex": index if isinstance(index, int) and 0 <= index < 64 else None,
        }
    elif kind in ("hangup", "decline", "fail"):
        reason = data.get("reason")
        out["reason"] = (
            reason if reason in REASONS else ("declined" if kind == "decline" else "hangup")
        )
    elif kind == "screen":
        out["on"] = bool(data.get("on"))
    return out


def ending_reason(signal: dict[str, Any]) -> str | None:
    """The reason a signal ends its call with, or None for a signal that does not."""
    if signal["kind"] in ("hangup", "decline", "fail"):
        return str(signal["reason"])
    return None
