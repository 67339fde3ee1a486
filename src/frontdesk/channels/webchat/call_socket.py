"""Browser-call signalling over the two existing sockets (ADR-free: no new socket).

Visitor frames (widget socket): {"type": "call", "id": <client id>, "media": "audio"|"video"}
starts a call; {"type": "rtc", "call_id", "data": <signal>} carries a signal of that call.
Agent frames (desk socket): {"type": "rtc", "conversation_id", "call_id", "data": <signal>}.
A signal is {"kind": "accept"|"offer"|"answer"|"ice"|"screen"|"hangup"|"decline"|"fail", ...}
(calls.clean_signal keeps only its own fields).

Scope: a visitor's signals name the call their socket started and go to the agents who may see
its conversation (once answered, to the answering agent alone); an agent's signals go to the
sockets of that conversation's customer on that inbox, and only for a call the agent answered."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from frontdesk.auth.models import Agent
from frontdesk.channels.webchat import calls
from frontdesk.channels.webchat.service import VisitorInfo, visitor_message
from frontdesk.conversations import service as conversations
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import DESK_SIGNALS, VISITOR_SIGNALS
from frontdesk.kit import uow
from frontdesk.kit.errors import Conflict, FrontdeskError, NotFound
from frontdesk.routing import service as routing
from frontdesk.runtime import Runtime

if TYPE_CHECKING:
    from frontdesk.channels.webchat.hub import VisitorConn, VisitorHub
    from frontdesk.web.socket import Desk

log = logging.getLogger(__name__)


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


async def start_from_visitor(
    conn: VisitorConn,
    runtime: Runtime,
    hub: VisitorHub,
    inbox: Inbox,
    frame: dict[str, Any],
    visitor: VisitorInfo,
) -> None:
    """The visitor starts a call: stored as a ringing call message, then rung on the desk."""
    from frontdesk.channels.webchat.socket import bind_visitor, visitor_session

    client_id = str(frame.get("id", ""))
    conn.begin()
    try:
        item = calls.visitor_call_in(
            inbox, conn.claims, client_id=client_id, media=str(frame.get("media", "")),
            app=runtime.settings, visitor=visitor,
        )  # fmt: skip
        async with visitor_session(runtime) as session:
            online = await routing.inbox_has_agent_online(session, inbox.id)
            await session.commit()
        if not online:
            raise Conflict("no agent is online to take a call", code="no_agent_online")
        received = await hub.receive(item)
        message = received.message
        conn.sent.add(message.id)
        conn.conversation_id = message.conversation_id
        await bind_visitor(conn, runtime, hub, message.customer_id)
        conn.call_id, conn.call_agent = message.id, None
        call = calls.call_of(message)
        await conn.send(
            {
                "type": "call",
                "id": client_id,
                "call_id": message.id,
                "recorded": bool(call.get("recorded")),
                "message": visitor_message(message).model_dump(),
            }
        )
        ring = {"kind": "ring", "media": call.get("media"), "recorded": bool(call.get("recorded"))}
        await _to_desk(runtime, conn, message.id, ring)
    except FrontdeskError as exc:
        await conn.send(
            {"type": "error", "id": client_id, "call": True, "code": exc.code,
             "message": exc.message}
        )  # fmt: skip
    finally:
        conn.end()


async def signal_from_visitor(conn: VisitorConn, runtime: Runtime, frame: dict[str, Any]) -> None:
    call_id = _int(frame.get("call_id"))
    signal = calls.clean_signal(frame.get("data"))
    if call_id is None or signal is None or call_id != conn.call_id:
        await conn.send({"type": "error", "code": "unknown_call", "message": "no such call"})
        return
    if signal["kind"] == "accept":
        try:
            await _accept_by_visitor(runtime, call_id)
        except FrontdeskError as exc:
            conn.call_id = None
            await conn.send({"type": "error", "code": exc.code, "message": exc.message})
            return
    reason = calls.ending_reason(signal)
    if reason is not None:
        conn.call_id = None
        await end_call(runtime, call_id, reason)
    await _to_desk(runtime, conn, call_id, signal)


async def _accept_by_visitor(runtime: Runtime, call_id: int) -> None:
    async with runtime.db.session() as session:
        message = await calls.get_call_or_raise(session, call_id)
        await calls.accept_by_visitor(session, message)
        await uow.commit(session)


async def visitor_gone(conn: VisitorConn, runtime: Runtime) -> None:
    """The visitor's socket closed during a call: the call ends and the agent is told."""
    call_id, conn.call_id = conn.call_id, None
    if call_id is None:
        return
    try:
        await end_call(runtime, call_id, "peer_offline")
        await _to_desk(runtime, conn, call_id, {"kind": "hangup", "reason": "peer_offline"})
    except Exception:
        log.exception("could not end call %s of a visitor who left", call_id)


async def _to_desk(runtime: Runtime, conn: VisitorConn, call_id: int, data: dict[str, Any]) -> None:
    await runtime.bus.publish(
        DESK_SIGNALS,
        json.dumps(
            {
                "type": "rtc",
                "who": "customer",
                "inbox_id": conn.claims.inbox_id,
                "customer_id": conn.customer_id,
                "conversation_id": conn.conversation_id,
                "call_id": call_id,
                # Once answered, only the answering agent's pages take the call's signals.
                "to_agent": conn.call_agent,
                "scope": "conversation",
                "data": data,
            }
        ),
    )


async def end_call(runtime: Runtime, call_id: int, reason: str) -> None:
    async with runtime.db.session() as session:
        message = await calls.get_call_or_raise(session, call_id)
        if await calls.end(session, message, reason=reason) is not None:
            await uow.commit(session)
        else:
            await session.rollback()


async def deliver_to_visitor(conn: VisitorConn, signal: dict[str, Any]) -> None:
    """An agent's signal reaches the visitor socket that holds its call (the hub delivers it
    to every socket of the customer on the inbox; the others drop it)."""
    call_id = signal.get("call_id")
    data = signal["data"]
    if data["kind"] == "ring" and conn.call_id is None:
        # The agent calls this visitor: every tab of theirs rings until one answers.
        conn.call_id, conn.call_agent = call_id, signal.get("agent_id")
    if call_id is None or call_id != conn.call_id:
        return
    if data["kind"] == "accept":
        conn.call_agent = signal.get("agent_id")
    elif signal.get("agent_id") != conn.call_agent:
        return
    if calls.ending_reason(data) is not None:
        conn.call_id = None
    await conn.send(
        {"type": "rtc", "call_id": call_id, "agent_name": signal.get("agent_name"), "data": data}
    )


def _active(desk: Desk) -> dict[int, int]:
    """The calls this desk socket answered: call id → conversation id."""
    active: dict[int, int] = desk.state.setdefault("calls", {})
    return active


async def signal_from_desk(desk: Desk, frame: dict[str, Any]) -> dict[str, Any] | None:
    """An agent's signal, relayed to the visitor; returns a frame for the agent's own page
    when the signal was refused (the call was taken by someone else, or is over)."""
    conversation_id = _int(frame.get("conversation_id"))
    call_id = _int(frame.get("call_id"))
    signal = calls.clean_signal(frame.get("data"))
    found = await desk.conversation(conversation_id) if conversation_id else None
    if found is None or call_id is None or signal is None or found[2] != "webchat":
        return None
    inbox_id, customer_id, _ = found
    runtime, agent, active = desk.runtime, desk.agent, _active(desk)
    refused = {"type": "rtc", "call_id": call_id, "conversation_id": conversation_id,
               "data": {"kind": "fail", "reason": "taken"}}  # fmt: skip
    if signal["kind"] == "accept":
        try:
            await _answer(runtime, agent, call_id, conversation_id)
        except FrontdeskError:
            return refused
        active[call_id] = int(conversation_id or 0)
        # Other agents' pages stop ringing.
        await runtime.bus.publish(
            DESK_SIGNALS,
            json.dumps(
                {"type": "rtc", "who": "agent", "agent_id": agent.id, "inbox_id": inbox_id,
                 "conversation_id": conversation_id, "call_id": call_id,
                 "scope": "conversation", "data": {"kind": "taken"}}
            ),
        )  # fmt: skip
    elif active.get(call_id) != conversation_id:
        # Not a call this page answered or placed, or named with another conversation.
        return None if signal["kind"] == "decline" else refused
    reason = calls.ending_reason(signal)
    if reason is not None:
        active.pop(call_id, None)
        await end_call(runtime, call_id, reason)
    await publish_to_visitor(
        runtime, agent, inbox_id, customer_id, conversation_id, call_id, signal
    )  # fmt: skip
    return None


async def start_from_desk(desk: Desk, frame: dict[str, Any]) -> dict[str, Any] | None:
    """The agent calls the visitor of a chat conversation: stored as a ringing outbound call,
    then rung in the visitor's widget. Answers the page with the call's id (or why not)."""
    conversation_id = _int(frame.get("conversation_id"))
    found = await desk.conversation(conversation_id) if conversation_id else None
    if found is None or found[2] != "webchat":
        return None
    inbox_id, customer_id, _ = found
    try:
        async with desk.runtime.db.session() as session:
            conversation = await conversations.get_or_raise(
                session, int(conversation_id or 0), agent=desk.agent
            )
            inbox = await inboxes_repository.get_inbox(session, inbox_id)
            if inbox is None:
                raise NotFound("inbox not found")
            message = await calls.place(
                session, conversation, inbox, agent=desk.agent, media=str(frame.get("media", ""))
            )
            recorded = bool(calls.call_of(message).get("recorded"))
            await uow.commit(session)
    except FrontdeskError as exc:
        return {"type": "call", "conversation_id": conversation_id, "error": exc.code}
    _active(desk)[message.id] = int(conversation_id or 0)
    ring = {"kind": "ring", "media": calls.call_of(message).get("media"), "recorded": recorded}
    await publish_to_visitor(
        desk.runtime, desk.agent, inbox_id, customer_id, conversation_id, message.id, ring
    )
    return {"type": "call", "conversation_id": conversation_id, "call_id": message.id,
            "media": ring["media"], "recorded": recorded}  # fmt: skip


async def _answer(
    runtime: Runtime, agent: Agent, call_id: int, conversation_id: int | None
) -> None:
    async with runtime.db.session() as session:
        message = await calls.get_call_or_raise(session, call_id)
        if message.conversation_id != conversation_id:
            raise NotFound("call not found")
        await calls.answer(session, message, agent=agent)
        await uow.commit(session)


async def publish_to_visitor(
    runtime: Runtime,
    agent: Agent,
    inbox_id: int,
    customer_id: int,
    conversation_id: int | None,
    call_id: int,
    data: dict[str, Any],
) -> None:
    await runtime.bus.publish(
        VISITOR_SIGNALS,
        json.dumps(
            {
                "type": "rtc",
                "inbox_id": inbox_id,
                "customer_id": customer_id,
                "conversation_id": conversation_id,
                "call_id": call_id,
                "agent_id": agent.id,
                "agent_name": agent.name.split(" ")[0],
                "data": data,
            }
        ),
    )


async def desk_gone(desk: Desk) -> None:
    """The agent's desk socket closed: their calls end and the visitors are told."""
    active = _active(desk)
    for call_id in list(active):
        active.pop(call_id, None)
        try:
            async with desk.runtime.db.session() as session:
                message = await calls.get_call_or_raise(session, call_id)
                inbox_id, customer_id = message.inbox_id, message.customer_id
                conversation_id = message.conversation_id
                changed = await calls.end(session, message, reason="peer_offline")
                await (uow.commit(session) if changed is not None else session.rollback())
            if changed is not None:
                await publish_to_visitor(
                    desk.runtime, desk.agent, inbox_id, customer_id, conversation_id, call_id,
                    {"kind": "hangup", "reason": "peer_offline"},
                )  # fmt: skip
        except Exception:
            log.exception("could not end call %s of an agent who left", call_id)
