"""The visitor's websocket /widget/ws?token=…&since=<last message id seen>.

Client frames: {"type": "message", "id": <client id>, "text"} · {"type": "typing", "on"} ·
{"type": "read", "up_to": <message id>} · {"type": "ping"}.
Server frames: {"type": "hello", "online"} · {"type": "message", "message"} ·
{"type": "ack", "id", "message"} · {"type": "status", "id", "status"} · {"type": "typing", "on"} ·
{"type": "error", "id"?, "code", "message"} · {"type": "pong"}.

A message frame is acknowledged only after it is committed; a resend of the same client id
(the widget resends everything unacknowledged after a reconnect) is stored once and acked
again with the same message."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.models import Inbox
from frontdesk.channels.webchat import service
from frontdesk.channels.webchat.adapter import read_settings
from frontdesk.channels.webchat.hub import DESK_SIGNALS, VISITOR_SIGNALS, VisitorConn, VisitorHub
from frontdesk.conversations import repository as conversations_repository
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.routing import service as routing
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter()

# Visitor sockets use at most this many database sessions at once: under overload visitors
# queue here, in order, instead of timing out in the pool, and agent pages, event sockets and
# jobs keep connections of their own. SQLite runs one writer at a time anyway, and handing
# its lock over through this queue beats SQLite's sleeping busy-wait.
VISITOR_DB_SLOTS = {"sqlite": 1, "postgresql": 8}
_slots: dict[int, tuple[Runtime, asyncio.Semaphore]] = {}


@contextlib.asynccontextmanager
async def visitor_session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    known = _slots.get(id(runtime))
    if known is None or known[0] is not runtime:
        _slots.clear()  # one runtime per process (tests make a new one per test)
        slots = VISITOR_DB_SLOTS.get(runtime.db.engine.dialect.name, 8)
        known = _slots[id(runtime)] = (runtime, asyncio.Semaphore(slots))
    async with known[1], runtime.db.session() as session:
        yield session


@router.websocket("/widget/ws")
async def visitor_socket(websocket: WebSocket, token: str = "", since: int = 0) -> None:
    runtime: Runtime = websocket.app.state.runtime
    try:
        claims = service.read_token(runtime.settings, token)
        async with visitor_session(runtime) as session:
            inbox = await service.get_webchat_inbox(session, claims.inbox_id)
            customer_id = await service.customer_id_of(session, claims)
            visitor = await service.visitor_info(session, claims)
            online = await routing.inbox_has_agent_online(session, inbox.id)
            await session.commit()  # read-only; commit keeps the loaded rows usable
    except FrontdeskError as exc:
        # Accepted first: a close before the handshake reaches the browser as a bare 403, and
        # the widget must tell 4440 (token expired: start a new chat) from 4401 (no valid token).
        await websocket.accept()
        if exc.code == service.TOKEN_EXPIRED:
            await websocket.close(code=4440, reason=service.TOKEN_EXPIRED)
        else:
            await websocket.close(code=4401, reason="unauthenticated")
        return
    allowed = read_settings(inbox).allowed_origins
    if allowed and websocket.headers.get("origin") not in allowed:
        await websocket.close(code=4403, reason="origin not allowed")
        return
    await websocket.accept()
    hub = VisitorHub.of(websocket.app)
    conn = VisitorConn(websocket, claims, customer_id)
    await hub.attach(conn)  # subscribed before the replay: nothing falls in between
    writer = asyncio.create_task(_writer(conn, runtime, token))
    try:
        # Sliding expiry: each connect hands the widget a renewed token.
        renewed = service.issue_token(runtime.settings, claims)
        await conn.send({"type": "hello", "online": online, "token": renewed})
        conn.push({"kind": "replay", "since": max(since, 0)})
        await _reader(conn, runtime, hub, inbox, visitor)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
        await hub.detach(conn)


async def _reader(
    conn: VisitorConn,
    runtime: Runtime,
    hub: VisitorHub,
    inbox: Inbox,
    visitor: service.VisitorInfo,
) -> None:
    inbox_id = inbox.id
    while True:
        raw = await conn.websocket.receive_text()
        try:
            frame = json.loads(raw)
            if not isinstance(frame, dict):
                raise ValueError("not an object")
        except ValueError:
            await conn.send({"type": "error", "code": "invalid_payload", "message": "bad frame"})
            continue
        kind = frame.get("type")
        if kind == "message":
            await _on_message(conn, runtime, hub, inbox, frame, visitor)
        elif kind == "typing" and conn.customer_id is not None:
            await runtime.bus.publish(
                DESK_SIGNALS,
                json.dumps(
                    {
                        "type": "typing",
                        "who": "customer",
                        "on": bool(frame.get("on", True)),
                        "inbox_id": inbox_id,
                        "customer_id": conn.customer_id,
                        "conversation_id": conn.conversation_id,
                    }
                ),
            )
        elif kind == "read" and conn.customer_id is not None:
            await _on_read(conn, runtime, inbox_id, frame)
        elif kind == "ping":
            await conn.send({"type": "pong"})


async def _on_message(
    conn: VisitorConn,
    runtime: Runtime,
    hub: VisitorHub,
    inbox: Inbox,
    frame: dict[str, Any],
    visitor: service.VisitorInfo,
) -> None:
    client_id = str(frame.get("id", ""))
    conn.begin()
    try:
        # One transaction per message: `receive` checks the inbox is still active itself.
        async with visitor_session(runtime) as session:
            received = await uow.retrying(
                session,
                lambda: service.receive_message(
                    session,
                    inbox,
                    conn.claims,
                    client_id=client_id,
                    text=str(frame.get("text", "")),
                    blobs=runtime.blobs,
                    app=runtime.settings,
                    visitor=visitor,
                ),
            )
            shown = service.visitor_message(received.message)
        message = received.message
        conn.acked.add(message.id)
        conn.sent.add(message.id)
        conn.conversation_id = message.conversation_id
        if conn.customer_id is None:
            hub.bind(conn, message.customer_id)
            # Other tabs of this visitor learn their customer now and start receiving.
            await runtime.bus.publish(
                VISITOR_SIGNALS,
                json.dumps(
                    {
                        "type": "bind",
                        "address": conn.claims.address,
                        "customer_id": message.customer_id,
                    }
                ),
            )
        await conn.send({"type": "ack", "id": client_id, "message": shown.model_dump()})
    except FrontdeskError as exc:
        await conn.send(
            {"type": "error", "id": client_id, "code": exc.code, "message": exc.message}
        )
    except Exception:
        # Nothing was acknowledged, so nothing is lost: the widget keeps the message and sends
        # it again; `receive` stores it once whenever that succeeds.
        log.exception("visitor message %s not stored; the client will retry", client_id)
        await conn.send(
            {
                "type": "error",
                "id": client_id,
                "code": "unavailable",
                "retry": True,
                "message": "not stored yet, retrying",
            }
        )
    finally:
        conn.end()


async def _on_read(
    conn: VisitorConn, runtime: Runtime, inbox_id: int, frame: dict[str, Any]
) -> None:
    try:
        up_to = int(frame.get("up_to", 0))
    except (TypeError, ValueError):
        return
    assert conn.customer_id is not None
    async with visitor_session(runtime) as session:
        changed = await service.mark_read(
            session, inbox_id=inbox_id, customer_id=conn.customer_id, up_to=up_to
        )
        if changed:
            await uow.commit(session)


async def _writer(conn: VisitorConn, runtime: Runtime, token: str) -> None:
    while True:
        item = await conn.outbox.get()
        kind = item["kind"]
        if kind in ("replay", "resync"):
            since = item.get("since", max(conn.sent, default=0))
            await _replay(conn, runtime, token, since)
        elif kind == "signal":
            signal = item["signal"]
            await conn.send({"type": signal["type"], "on": signal.get("on", True)})
        elif kind == "event":
            await _forward(conn, runtime, token, item["event"])


async def _replay(conn: VisitorConn, runtime: Runtime, token: str, since: int) -> None:
    if conn.customer_id is None:
        return
    async with visitor_session(runtime) as session:
        rows = await service.history(
            session, inbox_id=conn.claims.inbox_id, customer_id=conn.customer_id, after=since
        )
        fresh = [row for row in rows if row.id not in conn.sent]
        shown = await service.widget_messages(session, fresh, token=token)
        await session.commit()
    for row, message in zip(fresh, shown, strict=True):
        conn.sent.add(row.id)
        conn.conversation_id = row.conversation_id
        await conn.send({"type": "message", "message": message.model_dump()})


async def _forward(conn: VisitorConn, runtime: Runtime, token: str, event: dict[str, Any]) -> None:
    payload = event["payload"]
    message_id = int(payload["message_id"])
    if event["type"] == "message.updated":
        if message_id in conn.sent:
            await conn.send(
                {"type": "status", "id": message_id, "status": payload["delivery_status"]}
            )
        return
    if message_id in conn.sent:
        return
    if payload.get("direction") == "inbound":
        # Our own frame may still be between commit and ack: wait, then it is acked and shown.
        await conn.idle.wait()
        if message_id in conn.acked:
            return
    async with visitor_session(runtime) as session:
        message = await conversations_repository.get_message(session, message_id)
        if message is None:
            return
        shown = await service.widget_messages(session, [message], token=token)
        await session.commit()
    if message_id in conn.sent:
        return
    conn.sent.add(message_id)
    conn.conversation_id = message.conversation_id
    await conn.send({"type": "message", "message": shown[0].model_dump()})
