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
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.webchat import service
from frontdesk.channels.webchat.tokens import VisitorClaims
from frontdesk.conversations.receiving import Received
from frontdesk.inboxes.port import VISITOR_SIGNALS
from frontdesk.kit.events import list_after
from frontdesk.kit.groupcommit import GroupCommit
from frontdesk.routing import waits
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)

OUTBOX_SIZE = 256
# Under load, how long the intake waits for as many visitors as its previous batch had, so
# they share a commit; a message after a quiet spell is written at once (kit/groupcommit.py).
INTAKE_LINGER_SECONDS = 0.002
# When tasks move (or agents come and go), the waiting visitors' places are read again once
# this long after the first such event: a burst of events costs one query for all sockets.
QUEUE_SETTLE_SECONDS = 0.3

# What the hub hands a socket: ("event", event) · ("signal", signal) · ("replay", since) ·
# ("resync", None) · ("queue", Place | None) · ("queue_check", None).
Item = tuple[str, Any]
Deliver = Callable[["VisitorConn", Item], Awaitable[None]]


class VisitorConn:
    """One visitor socket. Idle, it holds no task, queue or lock: thousands of open chats
    cost little. Pushed items are delivered in order by a task that exists only while there
    is something to deliver."""

    __slots__ = (
        "_backlog",
        "_closed",
        "_deliver",
        "_drainer",
        "_held",
        "call_agent",
        "call_id",
        "claims",
        "conversation_id",
        "customer_id",
        "inflight",
        "queue_shown",
        "sent",
        "token",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        claims: VisitorClaims,
        customer_id: int | None,
        *,
        token: str,
        deliver: Deliver,
    ) -> None:
        self.websocket = websocket
        self.claims = claims
        self.customer_id = customer_id
        self.conversation_id: int | None = None
        # The browser call this socket is in (its message id), and the agent who answered it.
        self.call_id: int | None = None
        self.call_agent: int | None = None
        self.token = token
        # Ids of the messages this socket has shown (replayed, forwarded or acknowledged).
        self.sent: set[int] = set()
        # The socket's own messages between submit and ack.
        self.inflight = 0
        # The last queue frame sent ((position, wait minutes) or None): sent again only on change.
        self.queue_shown: tuple[int, int | None] | None = None
        self._deliver = deliver
        self._backlog: deque[Item] | None = None
        self._held: list[Item] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._closed = False

    def push(self, item: Item) -> None:
        if self._closed:
            return
        if self.inflight and _is_inbound_created(item):
            # Most likely our own message, committed but not yet acknowledged: decide once
            # the ack is out (and then it is shown already) instead of waking a task now.
            if self._held is None:
                self._held = []
            self._held.append(item)
            return
        if self._backlog is None:
            self._backlog = deque()
        if len(self._backlog) >= OUTBOX_SIZE:
            # Too far behind: drop the backlog and replay from the messages table instead.
            self._backlog.clear()
            item = ("resync", None)
        self._backlog.append(item)
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._backlog:
                item = self._backlog.popleft()
                try:
                    await self._deliver(self, item)
                except (WebSocketDisconnect, RuntimeError):
                    self._backlog.clear()  # gone; the reader notices and detaches
                except Exception:
                    # Whatever failed is replayed from the messages table on the next resync.
                    log.exception("visitor socket could not deliver %s", item[0])
        finally:
            self._drainer = None
            if not self._backlog:
                self._backlog = None

    async def send(self, data: dict[str, Any]) -> None:
        # One frame per call, written whole (no lock needed: a send never interleaves).
        await self.websocket.send_text(json.dumps(data))

    def begin(self) -> None:
        self.inflight += 1

    def end(self) -> None:
        self.inflight -= 1
        if self.inflight == 0 and self._held is not None:
            held, self._held = self._held, None
            for item in held:
                if int(item[1]["payload"]["message_id"]) not in self.sent:
                    self.push(item)  # another tab of this visitor wrote it

    async def close(self) -> None:
        self._closed = True
        drainer, self._drainer = self._drainer, None
        self._backlog = self._held = None
        if drainer is not None:
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await drainer


def _is_inbound_created(item: Item) -> bool:
    if item[0] != "event":
        return False
    event = item[1]
    return bool(
        event.get("type") == "message.created" and event["payload"].get("direction") == "inbound"
    )


class VisitorHub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.by_customer: dict[tuple[int, int], set[VisitorConn]] = defaultdict(set)
        self.by_address: dict[str, set[VisitorConn]] = defaultdict(set)
        self.count = 0
        self.last: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: list[asyncio.Event] = []
        self._queue_dirty = False
        self._queue_task: asyncio.Task[None] | None = None
        self.intake = self._new_intake()

    def _new_intake(self) -> GroupCommit[service.VisitorMessage, Received]:
        # Visitor messages of the process share commits (ADR 0002, ADR 0004): an ack still
        # follows the commit that stored its message.
        return GroupCommit(
            self.runtime.db,
            self._write_many,
            writers=self.runtime.settings.ingest_writers,
            linger=INTAKE_LINGER_SECONDS,
            name="webchat",
        )

    async def _write_many(
        self, session: AsyncSession, items: list[service.VisitorMessage]
    ) -> Sequence[Received | Exception]:
        return await service.receive_visitor_messages(session, items, blobs=self.runtime.blobs)

    async def receive(self, item: service.VisitorMessage) -> Received:
        """Store one visitor message; returns once it is committed (or raises why not)."""
        return await self.intake.submit(item)

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
        if self.count == 0:
            # No socket left, so nobody waits on the intake: stop its writer (a socket that
            # comes meanwhile uses the fresh one).
            intake, self.intake = self.intake, self._new_intake()
            await intake.stop()
        if self.count == 0 and self._tasks:
            tasks, self._tasks = self._tasks, []
            if self._queue_task is not None:
                tasks.append(self._queue_task)
                self._queue_task = None
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
                conn.push(("event", event))
        elif isinstance(kind, str) and (kind.startswith("task.") or kind == "presence.changed"):
            self.queue_moved()
        elif kind == "customer.merged":
            keep, merged = event["payload"]["customer_id"], event["payload"]["merged_id"]
            for (inbox_id, customer_id), conns in list(self.by_customer.items()):
                if customer_id == merged:
                    for conn in tuple(conns):
                        _discard(self.by_customer, (inbox_id, customer_id), conn)
                        self.bind(conn, keep)
                        conn.push(("resync", None))

    def queue_moved(self) -> None:
        """Tasks moved: tell each waiting visitor of the process their place, soon, at once."""
        self._queue_dirty = True
        if self._queue_task is None and self.by_customer:
            self._queue_task = asyncio.get_running_loop().create_task(self._refresh_places())

    async def _refresh_places(self) -> None:
        try:
            while self._queue_dirty:
                self._queue_dirty = False
                await asyncio.sleep(QUEUE_SETTLE_SECONDS)
                owners = [key for key, conns in self.by_customer.items() if conns]
                try:
                    async with self.runtime.db.session() as session:
                        found = await waits.places(session, owners)
                        await session.commit()
                except Exception:
                    log.exception("visitor hub could not read queue places")
                    continue
                for owner in owners:
                    for conn in tuple(self.by_customer.get(owner, ())):
                        conn.push(("queue", found.get(owner)))
        finally:
            self._queue_task = None

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
                    conn.push(("resync", None))
            return
        key = (signal.get("inbox_id"), signal.get("customer_id"))
        for conn in tuple(self.by_customer.get(key, ())):  # type: ignore[arg-type]
            conn.push(("signal", signal))


def _discard(index: dict[Any, set[VisitorConn]], key: Any, conn: VisitorConn) -> None:
    conns = index.get(key)
    if conns is not None:
        conns.discard(conn)
        if not conns:
            del index[key]
