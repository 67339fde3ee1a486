"""The desk socket /desk/ws: live signals that are never stored — who is viewing or typing
in a conversation (collision detection), a visitor typing — and the presence heartbeat.
Stored events (messages, status changes) come from /api/v1/events?since=N instead.

Client frames: {"type": "viewing" | "typing", "conversation_id", "target"?: "reply" | "note"},
{"type": "heartbeat"} and a browser call's signals {"type": "rtc", ...}
(channels/webchat/call_socket.py, through FRAME_HANDLERS). Server frames: the signals of
conversations this agent may see.

The socket lives only as long as its session: an access change naming its agent (bus channel
`access`, from every process) or the VISIBILITY_TTL re-check closes it with 4401 once the
session has ended, and reloads the agent's inboxes otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from frontdesk.auth import service as auth_service
from frontdesk.auth.events import ACCESS_CHANNEL, CLOSE_ACCESS_ENDED, names_agent
from frontdesk.auth.models import Agent
from frontdesk.conversations import service as conversations
from frontdesk.deps import SESSION_COOKIE
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.port import DESK_SIGNALS, VISITOR_SIGNALS
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound
from frontdesk.kit.security import loads
from frontdesk.routing import service as routing
from frontdesk.runtime import Runtime

router = APIRouter(include_in_schema=False)
# Channels that talk over this socket register here (the webchat channel's browser calls):
# a frame type's handler gets the desk and the frame and may answer the page with a frame;
# close handlers run when the socket ends.
FrameHandler = Callable[["Desk", dict[str, Any]], Awaitable[dict[str, Any] | None]]
FRAME_HANDLERS: dict[str, FrameHandler] = {}
CLOSE_HANDLERS: list[Callable[[Desk], Awaitable[None]]] = []
VISIBILITY_TTL = 30.0
HEARTBEAT_SECONDS = 30.0


async def _agent(websocket: WebSocket, runtime: Runtime) -> tuple[Agent, str] | None:
    token = websocket.cookies.get(SESSION_COOKIE)
    origin = websocket.headers.get("origin")
    # A session cookie counts only from our own pages: no cross-site socket hijacking.
    if not token or not origin or urlsplit(origin).netloc != websocket.headers.get("host"):
        return None
    async with runtime.db.session(read_only=True) as session:
        agent = await auth_service.agent_for_token(session, token, kind="session")
        await session.commit()  # keeps the loaded agent readable after the session closes
        return (agent, token) if agent is not None else None


class Desk:
    def __init__(self, websocket: WebSocket, runtime: Runtime, agent: Agent, token: str) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.agent = agent
        self.token = token
        self.ended = asyncio.Event()
        self.inbox_ids: set[int] | None = set()
        self.loaded = 0.0
        self.conversations: dict[int, tuple[int, int, str]] = {}
        # What registered channels keep per socket (e.g. the calls this agent answered).
        self.state: dict[str, Any] = {}

    async def visible(self) -> set[int] | None:
        if time.monotonic() - self.loaded > VISIBILITY_TTL:
            await self.recheck()
        return self.inbox_ids

    async def recheck(self) -> None:
        """Re-read the session and the agent's inboxes; set `ended` if the session is gone."""
        async with self.runtime.db.session(read_only=True) as session:
            agent = await auth_service.agent_for_token(session, self.token, kind="session")
            if agent is None:
                self.ended.set()
                return
            self.inbox_ids = await visible_inbox_ids(session, agent)
            await session.commit()
        self.agent = agent
        self.conversations.clear()
        self.loaded = time.monotonic()

    async def conversation(self, conversation_id: int) -> tuple[int, int, str] | None:
        """(inbox id, customer id, channel) of a conversation this agent may see."""
        if conversation_id not in self.conversations:
            async with self.runtime.db.session(read_only=True) as session:
                try:
                    found = await conversations.get_or_raise(
                        session, conversation_id, agent=self.agent
                    )
                except NotFound:
                    return None
                inbox = await inboxes_repository.get_inbox(session, found.inbox_id)
                channel = inbox.channel if inbox else ""
                await session.commit()
                self.conversations[conversation_id] = (found.inbox_id, found.customer_id, channel)
        return self.conversations[conversation_id]

    async def heartbeat(self) -> None:
        async with self.runtime.db.session() as session:
            await routing.seen(session, self.agent)
            await uow.commit(session)


@router.websocket("/desk/ws")
async def desk_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    found = await _agent(websocket, runtime)
    if found is None:
        await websocket.close(code=4401, reason="unauthenticated")
        return
    await websocket.accept()
    desk = Desk(websocket, runtime, *found)
    await desk.heartbeat()
    async with (
        runtime.bus.subscribe(DESK_SIGNALS) as queue,
        runtime.bus.subscribe(ACCESS_CHANNEL) as access,
    ):
        tasks = [
            asyncio.create_task(_forward(desk, queue)),
            asyncio.create_task(_watch(desk, access)),
            asyncio.create_task(_read(desk)),
            asyncio.create_task(desk.ended.wait()),
        ]
        try:
            await asyncio.wait(tasks[2:], return_when=asyncio.FIRST_COMPLETED)
            if desk.ended.is_set():
                with contextlib.suppress(Exception):
                    await websocket.close(code=CLOSE_ACCESS_ENDED, reason="access ended")
        finally:
            for close in CLOSE_HANDLERS:
                with contextlib.suppress(Exception):
                    await close(desk)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _watch(desk: Desk, access: asyncio.Queue[str]) -> None:
    """Re-check at once when any process reports an access change for this agent."""
    while True:
        if names_agent(json.loads(await access.get()), desk.agent.id):
            await desk.recheck()


async def _read(desk: Desk) -> None:
    last_beat = time.monotonic()
    while True:
        try:
            frame = loads(await desk.websocket.receive_text())
        except ValueError:  # not JSON, or nested too deep (Invalid is a ValueError)
            continue
        except (WebSocketDisconnect, RuntimeError):
            return
        if not isinstance(frame, dict):
            continue
        if time.monotonic() - last_beat > HEARTBEAT_SECONDS or frame.get("type") == "heartbeat":
            await desk.heartbeat()
            last_beat = time.monotonic()
        if frame.get("type") in ("viewing", "typing"):
            await _signal(desk, frame)
        elif str(frame.get("type")) in FRAME_HANDLERS:
            answer = await FRAME_HANDLERS[str(frame["type"])](desk, frame)
            if answer is not None:
                with contextlib.suppress(Exception):
                    await desk.websocket.send_text(json.dumps(answer))


async def _signal(desk: Desk, frame: dict[str, Any]) -> None:
    try:
        conversation_id = int(frame.get("conversation_id", 0))
    except (TypeError, ValueError):
        return
    found = await desk.conversation(conversation_id)
    if found is None:
        return
    inbox_id, customer_id, channel = found
    kind = str(frame["type"])
    signal = {
        "type": kind,
        "who": "agent",
        "agent_id": desk.agent.id,
        "agent_name": desk.agent.name,
        "conversation_id": conversation_id,
        "inbox_id": inbox_id,
        "target": "note" if frame.get("target") == "note" else "reply",
    }
    await desk.runtime.bus.publish(DESK_SIGNALS, json.dumps(signal))
    if kind == "typing" and signal["target"] == "reply" and channel == "webchat":
        # The visitor sees "agent is typing" — never for internal notes.
        await desk.runtime.bus.publish(
            VISITOR_SIGNALS,
            json.dumps(
                {"type": "typing", "on": True, "inbox_id": inbox_id, "customer_id": customer_id}
            ),
        )


async def _addressed_to(desk: Desk, signal: dict[str, Any]) -> bool:
    """A signal naming `to_agent` goes to that agent alone; one with `"scope":
    "conversation"` (a call's) only to agents who may see its conversation."""
    target = signal.get("to_agent")
    if target is not None and target != desk.agent.id:
        return False
    if signal.get("scope") != "conversation":
        return True
    try:
        return await desk.conversation(int(signal.get("conversation_id") or 0)) is not None
    except (TypeError, ValueError):
        return False


async def _forward(desk: Desk, queue: asyncio.Queue[str]) -> None:
    while True:
        signal = json.loads(await queue.get())
        if signal.get("who") == "agent" and signal.get("agent_id") == desk.agent.id:
            continue
        visible = await desk.visible()
        if visible is not None and signal.get("inbox_id") not in visible:
            continue
        if not await _addressed_to(desk, signal):
            continue
        with contextlib.suppress(Exception):
            await desk.websocket.send_text(json.dumps(signal))
