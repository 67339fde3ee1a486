"""Pub/sub port with an in-memory adapter (one process) and a Redis adapter (many)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

log = logging.getLogger(__name__)

# A subscriber that falls this far behind loses messages; sockets notice the sequence gap
# and refill from the event log, so a slow consumer never blocks publishers.
QUEUE_SIZE = 10_000


class Bus(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, channel: str, data: str) -> None: ...
    async def publish_many(self, channel: str, items: list[str]) -> None: ...
    def subscribe(
        self, channel: str
    ) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[str]]: ...


class MemoryBus:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[str]]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._queues.clear()

    async def publish(self, channel: str, data: str) -> None:
        self._deliver(channel, data)

    async def publish_many(self, channel: str, items: list[str]) -> None:
        """Publish in order (a commit's events): one call, one round trip on Redis."""
        for data in items:
            self._deliver(channel, data)

    def _deliver(self, channel: str, data: str) -> None:
        for queue in list(self._queues.get(channel, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(data)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._queues.setdefault(channel, set()).add(queue)
        try:
            yield queue
        finally:
            self._queues.get(channel, set()).discard(queue)


class RedisBus(MemoryBus):
    """Publishes through Redis; one listener per process fans messages out locally."""

    def __init__(self, url: str, prefix: str = "frontdesk") -> None:
        super().__init__()
        self.prefix = f"{prefix}:"
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        await self._redis.ping()
        self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()
        await super().stop()

    async def publish(self, channel: str, data: str) -> None:
        await self._redis.publish(self.prefix + channel, data)

    async def publish_many(self, channel: str, items: list[str]) -> None:
        # A non-transactional pipeline: the PUBLISHes go in one write, in order.
        async with self._redis.pipeline(transaction=False) as pipe:
            for data in items:
                pipe.publish(self.prefix + channel, data)
            await pipe.execute()

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.psubscribe(self.prefix + "*")
                self._ready.set()
                delay = 0.2
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    channel = message["channel"].decode()[len(self.prefix) :]
                    self._deliver(channel, message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception:
                # Sockets re-read the event log on reconnect/gaps, so nothing is lost meanwhile.
                log.exception("redis bus listener failed; reconnecting in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def make_bus(redis_url: str | None, prefix: str = "frontdesk") -> MemoryBus:
    return RedisBus(redis_url, prefix) if redis_url else MemoryBus()
