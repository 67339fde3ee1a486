"""The visitor's websocket /widget/ws?token=…&since=<last message id seen>.

Client frames: {"type": "message", "id": <client id>, "text"} · {"type": "typing", "on"} ·
{"type": "read", "up_to": <message id>} · {"type": "ping"} · browser calls: {"type": "call"}
and {"type": "rtc"} (call_socket.py).
Server frames: {"type": "hello", "online"} · {"type": "message", "message"} ·
{"type": "ack", "id", "message"} · {"type": "status", "id", "status"} · {"type": "typing", "on"} ·
{"type": "error", "id"?, "code", "message"} · {"type": "pong"} · {"type": "call"} and
{"type": "rtc"} (call_socket.py) ·
{"type": "queue", "position", "wait_minutes"} (the visitor's own place while their chat waits
for an agent; `position` null once it no longer waits).

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
from urllib.parse import parse_qs

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from frontdesk.channels.webchat import call_socket, service
from frontdesk.channels.webchat.adapter import read_settings
from frontdesk.channels.webchat.hub import Item, VisitorConn, VisitorHub
from frontdesk.channels.webchat.tokens import VisitorClaims
from frontdesk.conversations import repository as conversations_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import DESK_SIGNALS, VISITOR_SIGNALS
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.security import loads
from frontdesk.routing import service as routing
from frontdesk.routing import waits
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)

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


PATH = "/widget/ws"
# The error code of a message refused for good after it failed alone (not a temporary cause).
NOT_STORABLE = "not_storable"


async def visitor_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """The widget socket as a bare ASGI endpoint: app.py hands it `/widget/ws` before the
    middleware stack and the router (none of which act on websockets), so each of thousands
    of idle visitors holds one short coroutine chain instead of twenty frames (~14 KB)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = query.get("token", [""])[0]
    try:
        since = int(query.get("since", ["0"])[0])
    except ValueError:
        since = 0
    await visitor_socket(WebSocket(scope, receive, send), token, since)


async def visitor_socket(websocket: WebSocket, token: str = "", since: int = 0) -> None:
    runtime: Runtime = websocket.app.state.runtime
    try:
        claims = service.read_token(runtime.settings, token)
        # All sockets of an inbox share its cached row (the intake re-reads it per batch).
        inbox = service.webchat_inbox(await runtime.inboxes.get(claims.inbox_id))
        customer_id, visitor, online = await _visitor_state(runtime, claims)
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
    conn = VisitorConn(websocket, claims, customer_id, token=token, deliver=_deliver)
    await hub.attach(conn)  # subscribed before the replay: nothing falls in between
    try:
        # Sliding expiry: each connect hands the widget a renewed token.
        renewed = service.issue_token(runtime.settings, claims)
        await conn.send({"type": "hello", "online": online, "token": renewed})
        conn.push(("replay", max(since, 0)))
        conn.push(("queue_check", None))
        await _reader(conn, runtime, hub, inbox, visitor)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await call_socket.visitor_gone(conn, runtime)
        await conn.close()
        await hub.detach(conn)


async def _visitor_state(
    runtime: Runtime, claims: VisitorClaims
) -> tuple[int | None, service.VisitorInfo, bool]:
    # A function of its own so that no session outlives it in the socket's frame.
    async with visitor_session(runtime) as session:
        customer_id = await service.customer_id_of(session, claims)
        visitor = await service.visitor_info(session, claims)
        online = await routing.inbox_has_agent_online(session, claims.inbox_id)
        await session.commit()
    return customer_id, visitor, online


async def _reader(
    conn: VisitorConn,
    runtime: Runtime,
    hub: VisitorHub,
    inbox: Inbox,
    visitor: service.VisitorInfo,
) -> None:
    """The socket's one task: reads frames and answers them in order (so a visitor's
    messages are stored in the order typed)."""
    inbox_id = inbox.id
    while True:
        raw = await conn.websocket.receive_text()
        try:
            frame = loads(raw)  # too deep a nesting is a ValueError too, not a RecursionError
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
        elif kind == "call":
            await call_socket.start_from_visitor(conn, runtime, hub, inbox, frame, visitor)
        elif kind == "rtc":
            await call_socket.signal_from_visitor(conn, runtime, frame)
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
        item = service.visitor_message_in(
            inbox,
            conn.claims,
            client_id=client_id,
            text=str(frame.get("text", "")),
            app=runtime.settings,
            visitor=visitor,
        )
        # Shares a commit with the other visitors' messages of the moment (the intake reads
        # the inbox again and refuses it if it is gone); returns once committed.
        received = await hub.receive(item)
        message = received.message
        conn.sent.add(message.id)
        conn.conversation_id = message.conversation_id
        await bind_visitor(conn, runtime, hub, message.customer_id)
        shown = service.visitor_message(message)
        await conn.send(
            {
                "type": "ack",
                "id": client_id,
                "duplicate": received.duplicate,
                "message": shown.model_dump(),
            }
        )
    except FrontdeskError as exc:
        await conn.send(
            {"type": "error", "id": client_id, "code": exc.code, "message": exc.message}
        )
    except WebSocketDisconnect:
        raise
    except Exception as exc:
        if not uow.is_temporary(exc):
            # It failed alone, for a reason a resend cannot cure: refused for good, so the
            # widget stops sending it (and tells the visitor) instead of retrying for ever.
            log.exception("visitor message %s cannot be stored", client_id)
            await conn.send(
                {
                    "type": "error",
                    "id": client_id,
                    "code": NOT_STORABLE,
                    "retry": False,
                    "message": "this message cannot be stored",
                }
            )
            return
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


async def bind_visitor(
    conn: VisitorConn, runtime: Runtime, hub: VisitorHub, customer_id: int
) -> None:
    """The socket's first stored message names its customer: it starts receiving."""
    if conn.customer_id is not None:
        return
    hub.bind(conn, customer_id)
    # Other tabs of this visitor learn their customer now and start receiving.
    await runtime.bus.publish(
        VISITOR_SIGNALS,
        json.dumps({"type": "bind", "address": conn.claims.address, "customer_id": customer_id}),
    )


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


async def _deliver(conn: VisitorConn, item: Item) -> None:
    """What the hub pushed, in order (run by the socket's short-lived delivery task)."""
    kind, value = item
    runtime: Runtime = conn.websocket.app.state.runtime
    if kind == "replay":
        await _replay(conn, runtime, value)
    elif kind == "resync":
        await _replay(conn, runtime, max(conn.sent, default=0))
    elif kind == "signal" and value["type"] == "rtc":
        await call_socket.deliver_to_visitor(conn, value)
    elif kind == "signal":
        await conn.send({"type": value["type"], "on": value.get("on", True)})
    elif kind == "event":
        await _forward(conn, runtime, value)
    elif kind == "queue":
        await _show_place(conn, value)
    elif kind == "queue_check":
        await _check_place(conn, runtime)


async def _check_place(conn: VisitorConn, runtime: Runtime) -> None:
    """This socket's place alone (when it connects)."""
    if conn.customer_id is None:
        return
    owner = (conn.claims.inbox_id, conn.customer_id)
    async with visitor_session(runtime) as session:
        found = await waits.places(session, [owner])
        await session.commit()
    await _show_place(conn, found.get(owner))


async def _show_place(conn: VisitorConn, place: waits.Place | None) -> None:
    """Only the visitor's own task is described; a frame goes out only when it changed."""
    if place is not None and place.offered:
        return  # an agent is being asked: what was shown stays until they answer
    shown = None if place is None else (place.position, place.wait_minutes)
    if shown == conn.queue_shown:
        return
    conn.queue_shown = shown
    await conn.send(
        {
            "type": "queue",
            "position": shown[0] if shown else None,
            "wait_minutes": shown[1] if shown else None,
        }
    )


async def _replay(conn: VisitorConn, runtime: Runtime, since: int) -> None:
    if conn.customer_id is None:
        return
    async with visitor_session(runtime) as session:
        rows = await service.history(
            session, inbox_id=conn.claims.inbox_id, customer_id=conn.customer_id, after=since
        )
        fresh = [row for row in rows if row.id not in conn.sent]
        shown = await service.widget_messages(session, fresh, token=conn.token)
        await session.commit()
    for row, message in zip(fresh, shown, strict=True):
        conn.sent.add(row.id)
        conn.conversation_id = row.conversation_id
        await conn.send({"type": "message", "message": message.model_dump()})


async def _forward(conn: VisitorConn, runtime: Runtime, event: dict[str, Any]) -> None:
    payload = event["payload"]
    message_id = int(payload["message_id"])
    if event["type"] == "message.updated":
        if message_id in conn.sent:
            await conn.send(
                {"type": "status", "id": message_id, "status": payload["delivery_status"]}
            )
        return
    # The socket's own messages never get here: VisitorConn.push holds inbound events while
    # a message of the socket awaits its ack, and the ack marks it sent.
    if message_id in conn.sent:
        return
    async with visitor_session(runtime) as session:
        message = await conversations_repository.get_message(session, message_id)
        if message is None:
            return
        shown = await service.widget_messages(session, [message], token=conn.token)
        await session.commit()
    if message_id in conn.sent:
        return
    conn.sent.add(message_id)
    conn.conversation_id = message.conversation_id
    await conn.send({"type": "message", "message": shown[0].model_dump()})
