"""kit/bus.py: both adapters deliver a commit's events in order, once, to every subscriber;
the Redis one through the real Redis server (one pipelined write)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from frontdesk.kit.bus import MemoryBus, RedisBus
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "memory":
        bus = MemoryBus()
    else:
        bus = RedisBus(REDIS_URL, prefix=f"test-bus-{secrets.token_hex(4)}")
    await bus.start()
    yield bus
    await bus.stop()


async def test_publish_many_delivers_in_order_to_every_subscriber(bus) -> None:  # type: ignore[no-untyped-def]
    items = [f'{{"sequence": {n}}}' for n in range(1, 201)]
    async with (
        bus.subscribe("events") as first,
        bus.subscribe("events") as second,
        bus.subscribe("other") as elsewhere,
    ):
        await bus.publish_many("events", items[:150])
        await bus.publish("events", items[150])
        await bus.publish_many("events", items[151:])
        for queue in (first, second):
            got = [await asyncio.wait_for(queue.get(), 5) for _ in items]
            assert got == items
            assert queue.empty()
        await asyncio.sleep(0.1)
        assert elsewhere.empty()
