"""Group commit: a burst shares one transaction, and every caller hears how its item fared."""

from __future__ import annotations

import asyncio

import pytest

from frontdesk.kit.groupcommit import GroupCommit


class TestGroupCommit:
    async def test_a_burst_shares_a_transaction(self, runtime):
        sizes: list[int] = []

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            sizes.append(len(items))
            return [item * 2 for item in items]

        group: GroupCommit[int, int] = GroupCommit(runtime.db, write_many)
        try:
            assert await group.submit(21) == 42
            doubled = await asyncio.gather(*(group.submit(n) for n in range(10)))
        finally:
            await group.stop()
        assert doubled == [n * 2 for n in range(10)]
        assert sizes[0] == 1 and max(sizes) > 1

    async def test_a_caller_that_went_away_does_not_fail_the_others(self, runtime):
        gate = asyncio.Event()

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            await gate.wait()
            return items

        group: GroupCommit[int, int] = GroupCommit(runtime.db, write_many)
        try:
            first = asyncio.create_task(group.submit(0))  # holds the writer at the gate
            await asyncio.sleep(0.01)
            queued = [asyncio.create_task(group.submit(n)) for n in (1, 2, 3)]
            await asyncio.sleep(0.01)
            queued[1].cancel()
            gate.set()
            assert await first == 0
            assert [await queued[0], await queued[2]] == [1, 3]
        finally:
            await group.stop()

    async def test_callers_still_waiting_at_stop_are_told(self, runtime):
        started = asyncio.Event()

        async def write_many(session, items):  # type: ignore[no-untyped-def]
            started.set()
            await asyncio.sleep(60)
            return items

        group: GroupCommit[int, int] = GroupCommit(runtime.db, write_many)
        in_flight = asyncio.create_task(group.submit(1))
        await started.wait()
        queued = asyncio.create_task(group.submit(2))
        await asyncio.sleep(0.01)
        await group.stop()
        for task in (in_flight, queued):
            with pytest.raises(RuntimeError, match="shutting down"):
                await task
