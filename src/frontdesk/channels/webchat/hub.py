"""One subscriber per process fans committed message events out to the visitor sockets
that own them. A visitor socket never reads the whole event stream itself: 10,000 idle
visitors cost one bus subscription, not 10,000.

Invariant: a visitor sees every message of their own conversation once. The hub refills
sequence gaps from the event log (one query per gap, for all sockets); each socket replays
from the messages table when it connects or falls behind, and dedupes by message id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

from fastapi import WebSocket

from frontdesk.channels.webchat.tokens import VisitorClaims
from frontdesk.kit.events import list_after
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)

OUTBOX_SIZE = 256
VISITOR_SIGNALS = "visitor"  # bus channel: typing and binding, never stored
DESK_SIGNALS = "desk"  # bus channel: what the agent desktop shows live but never stores


class VisitorConn:
    def __init__(self, websocket: WebSocket, claims: VisitorClaims, customer_id: int | None):
        self.websocket = websocket
        self.claims = claims
        self.customer_id = customer_id
        self.conversation_id: int | None = None
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(OUTBOX_SIZE)
        self.acked: set[int] = set()
        self.sent: set[int] = set()
        self.inflight = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.lock = asyncio.Lock()

    def push(self, item: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait(item)
        except asyncio.QueueFull:
            # Too far behind: drop the backlog and replay from the messages table instead.
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.outbox.put_nowait({"kind": "resync"})

    async def send(self, data: dict[str, Any]) -> None:
        async with self.lock:
            await self.websocket.send_text(json.dumps(data))

    def begin(self) -> None:
        self.inflight += 1
        self.idle.clear()

    def end(self) -> None:
        self.inflight -= 1
        if self.inflight == 0:
            self.idle.set()


class VisitorHub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.by_customer: dict[tuple[int, int], set[VisitorConn]] = defaultdict(set)
        self.by_address: dict[str, set[VisitorConn]] = defaultdict(set)
        self.count = 0
        self.last: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: list[asyncio.Event] = []

    @classmethod
    def of(cls, app: Any) -> VisitorHub:
        hub = getattr(app.state, "visitor_hub", None)
        if hub is None:
            hub = app.state.visitor_hub = cls(app.state.runtime)
        return hub

    async def attach(self, conn: VisitorConn) -> None:
        """Register a socket; returns once the bus subscription is live (so a replay done
        after this cannot miss anything committed meanwhile)."""
        self.count += 1
        self.by_address[conn.claims.address].add(conn)
        if conn.customer_id is not None:
            self.bind(conn, conn.customer_id)
        if not self._tasks:
            self._ready = [asyncio.Event(), asyncio.Event()]
            self._tasks = [
                asyncio.create_task(self._pump_events(self._ready[0]), name="visitor-hub-events"),
                asyncio.create_task(self._pump_signals(self._ready[1]), name="visitor-hub-signals"),
            ]
        await asyncio.gather(*(event.wait() for event in self._ready))

    def bind(self, conn: VisitorConn, customer_id: int) -> None:
        conn.customer_id = customer_id
        self.by_customer[(conn.claims.inbox_id, customer_id)].add(conn)

    async def detach(self, conn: VisitorConn) -> None:
        self.count -= 1
        _discard(self.by_address, conn.claims.address, conn)
        if conn.customer_id is not None:
            _discard(self.by_customer, (conn.claims.inbox_id, conn.customer_id), conn)
        if self.count == 0 and self._tasks:
            tasks, self._tasks = self._tasks, []
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.last = None

    async def _pump_events(self, ready: asyncio.Event) -> None:
        async with self.runtime.bus.subscribe("events") as queue:
            ready.set()
            while True:
                event = json.loads(await queue.get())
                sequence = int(event["sequence"])
                if self.last is not None and sequence <= self.last:
                    continue
                if self.last is not None and sequence > self.last + 1:
                    await self._refill(self.last, sequence)
                self._dispatch(event)
                self.last = sequence

    def _dispatch(self, event: dict[str, Any]) -> None:
        # One malformed event must not stop the fan-out for every visitor of the process.
        try:
            self._route(event)
        except Exception:
            log.exception("visitor hub could not route event %s", event.get("sequence"))

    async def _refill(self, last: int, upto: int) -> None:
        try:
            async with self.runtime.db.session() as session:
                rows = await list_after(session, last, inbox_ids=None, limit=upto - last)
                await session.commit()
        except Exception:
            log.exception("visitor hub could not refill events %s..%s", last, upto)
            return
        for row in rows:
            if row.sequence < upto:
                self._dispatch(row.as_message())

    def _route(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("message.created", "message.updated"):
            key = (event.get("inbox_id"), event.get("customer_id"))
            for conn in tuple(self.by_customer.get(key, ())):  # type: ignore[arg-type]
                conn.push({"kind": "event", "event": event})
        elif kind == "customer.merged":
            keep, merged = event["payload"]["customer_id"], event["payload"]["merged_id"]
            for (inbox_id, customer_id), conns in list(self.by_customer.items()):
                if customer_id == merged:
                    for conn in tuple(conns):
                        _discard(self.by_customer, (inbox_id, customer_id), conn)
                        self.bind(conn, keep)
                        conn.push({"kind": "resync"})

    async def _pump_signals(self, ready: asyncio.Event) -> None:
        async with self.runtime.bus.subscribe(VISITOR_SIGNALS) as queue:
            ready.set()
            while True:
                try:
                    self._signal(json.loads(await queue.get()))
                except (ValueError, KeyError, TypeError):
                    log.exception("visitor hub dropped a malformed signal")

    def _signal(self, signal: dict[str, Any]) -> None:
        if signal.get("type") == "bind":
            for conn in tuple(self.by_address.get(signal["address"], ())):
                if conn.customer_id is None:
                    self.bind(conn, int(signal["customer_id"]))
                    conn.push({"kind": "resync"})
            return
        key = (signal.get("inbox_id"), signal.get("customer_id"))
        for conn in tuple(self.by_customer.get(key, ())):  # type: ignore[arg-type]
            conn.push({"kind": "signal", "signal": signal})


def _discard(index: dict[Any, set[VisitorConn]], key: Any, conn: VisitorConn) -> None:
    conns = index.get(key)
    if conns is not None:
        conns.discard(conn)
        if not conns:
            del index[key]
