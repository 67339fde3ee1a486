"""Websocket /api/v1/events?since=N: replay what the caller may see after N, then stream.

Invariant: a client that reconnects with the last sequence it saw misses nothing. Events are
committed in sequence order (kit.uow.commit), so when the bus skips a number we re-read the
log from the last sequence seen, and an idle socket re-reads it now and then as well.

Invariant: a socket streams only while its credential does. On an `agent.access_changed`
event naming its agent (read in sequence order, so nothing after it is judged by the old
rights) and every VISIBILITY_TTL_SECONDS, the socket re-reads its token and the agent's
inboxes: a revoked token, a deactivated agent or a changed password closes it (4401); a
team change takes effect from the next event on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from frontdesk.auth import service as auth_service
from frontdesk.auth.events import CLOSE_ACCESS_ENDED, names_agent
from frontdesk.auth.models import Agent
from frontdesk.deps import SESSION_COOKIE
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit.events import Event, last_sequence, list_after
from frontdesk.runtime import Runtime

router = APIRouter(tags=["events"])

IDLE_REFRESH_SECONDS = 5.0
VISIBILITY_TTL_SECONDS = 30.0
REPLAY_BATCH = 500


class AccessEnded(Exception):
    """The socket's token or session no longer grants access."""


class _Viewer:
    def __init__(self, runtime: Runtime, credential: tuple[Agent, str, str]) -> None:
        self.runtime = runtime
        self.agent, self.token, self.kind = credential
        self.inbox_ids: set[int] | None = set()
        self.loaded_at = 0.0

    async def refresh(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self.loaded_at < VISIBILITY_TTL_SECONDS:
            return
        async with self.runtime.db.session(read_only=True) as session:
            agent = await auth_service.agent_for_token(session, self.token, kind=self.kind)
            if agent is None:
                raise AccessEnded
            self.inbox_ids = await visible_inbox_ids(session, agent)
            await session.commit()  # keeps the agent readable once the session is closed
        self.agent = agent
        self.loaded_at = time.monotonic()

    async def observe(self, event: dict[str, Any]) -> None:
        """Re-check access at once when this event changes it."""
        if names_agent(event, self.agent.id):
            await self.refresh(force=True)

    def may_see(self, event: dict[str, Any]) -> bool:
        if self.inbox_ids is None:
            return True
        kind = str(event.get("type", ""))
        if (kind.startswith("task.") or kind == "presence.changed") and (
            (event.get("payload") or {}).get("agent_id") == self.agent.id
        ):
            return True  # routing's offers, hand-overs and presence reach the agent they name
        inbox_id = event.get("inbox_id")
        return inbox_id is not None and inbox_id in self.inbox_ids


async def _authenticate(
    websocket: WebSocket, runtime: Runtime, token: str | None
) -> tuple[Agent, str, str] | None:
    """(agent, token, kind): an API token in `?token=` or the header, or the desktop's
    session cookie."""
    kind = "api"
    if token is None:
        header = websocket.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
    if token is None and (cookie := websocket.cookies.get(SESSION_COOKIE)):
        # A browser session cookie is only honoured from our own pages (no cross-site sockets).
        origin = websocket.headers.get("origin")
        if origin and urlsplit(origin).netloc == websocket.headers.get("host"):
            token, kind = cookie, "session"
    if not token:
        return None
    async with runtime.db.session(read_only=True) as session:
        agent = await auth_service.agent_for_token(session, token, kind=kind)
        # End the read with a commit, not the closing rollback: a rollback expires the loaded
        # agent, and a detached, expired agent cannot be read by the socket afterwards.
        await session.commit()
        return (agent, token, kind) if agent is not None else None


@router.websocket("/events")
async def events(websocket: WebSocket, since: int = 0, token: str | None = None) -> None:
    runtime: Runtime = websocket.app.state.runtime
    credential = await _authenticate(websocket, runtime, token)
    await websocket.accept()
    if credential is None:
        # Accept first so browsers can read the close code (a refused handshake is opaque).
        await websocket.close(code=4401, reason="unauthenticated")
        return
    viewer = _Viewer(runtime, credential)
    reader = asyncio.create_task(_drain(websocket))
    try:
        # Subscribe before replaying: anything committed meanwhile is either in the replay or
        # queued here (and dropped as already seen).
        async with runtime.bus.subscribe("events") as queue:
            async with runtime.db.session(read_only=True) as session:
                # A cursor past the end (e.g. from a restored backup) means "from now on".
                start = min(max(since, 0), await last_sequence(session))
            last = await _replay(websocket, viewer, start)
            while not reader.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, reader},
                    timeout=IDLE_REFRESH_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if getter not in done:
                    getter.cancel()
                    if reader.done():
                        break
                    last = await _replay(websocket, viewer, last)
                    continue
                # Whatever else is queued (a commit publishes its events together) is sent in
                # the same turn, not one event per wait.
                burst = [getter.result()]
                while not queue.empty():
                    burst.append(queue.get_nowait())
                for raw in burst:
                    event = json.loads(raw)
                    sequence = int(event["sequence"])
                    if sequence <= last:
                        continue
                    if sequence == last + 1:
                        await viewer.observe(event)
                        await viewer.refresh()
                        if viewer.may_see(event):
                            # The bus carries the event's JSON, encoded once at publish.
                            await websocket.send_text(raw)
                        last = sequence
                    else:
                        last = await _replay(websocket, viewer, last)
    except AccessEnded:
        with contextlib.suppress(Exception):
            await websocket.close(code=CLOSE_ACCESS_ENDED, reason="access ended")
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client frames so a disconnect is noticed promptly."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _replay(websocket: WebSocket, viewer: _Viewer, last: int) -> int:
    """Send every visible event after `last` from the log; return the last sequence read."""
    await viewer.refresh()
    while True:
        async with viewer.runtime.db.session(read_only=True) as session:
            rows: list[Event] = await list_after(session, last, inbox_ids=None, limit=REPLAY_BATCH)
            # Read inside the session: closing it rolls back, which expires the rows.
            batch = [row.as_message() for row in rows]
        for message in batch:
            await viewer.observe(message)
            if viewer.may_see(message):
                await websocket.send_text(json.dumps(message))
            last = int(message["sequence"])
        if len(batch) < REPLAY_BATCH:
            return last
