"""uvicorn's sans-I/O websocket protocol, trimmed for many idle sockets (`frontdesk serve`).

Per open socket uvicorn keeps an asyncio.Queue for received frames (four deques and an
Event, ~3 KB), an asyncio.Event for write flow control (~0.8 KB), and the handshake's request
and response with their headers (~2 KB) that it never reads again. Here the queue and the
event are small slotted objects that allocate only while someone waits, and the handshake is
dropped once answered. Behaviour is unchanged: the same protocol code runs, with the same
frames, limits, keepalive pings and close handshake (tests/kit/test_websocket.py runs the
widget socket through it)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class _Inbox:
    """What uvicorn's protocol asks of its receive queue (put_nowait, get, empty), for its
    one reader: the ASGI app's `receive`."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        assert self._items is not None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0


class _Gate:
    """What uvicorn asks of its `writable` event (set, clear, is_set, wait)."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        while not self._open:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Gate()  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # Answered: uvicorn reads neither again (the ASGI scope has the headers).
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
