"""The periodic collect-and-freeze round (kit/gcfreeze.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

from frontdesk.kit.gcfreeze import freeze_periodically


class Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_freezes_survivors_and_still_frees_cyclic_garbage() -> None:
    task = asyncio.create_task(freeze_periodically(0.05, full_every=2))
    try:
        await asyncio.sleep(0.12)
        assert gc.get_freeze_count() > 0
        garbage = Cycle()
        gone = weakref.ref(garbage)
        gc.collect(1)
        gc.freeze()  # garbage that got frozen ...
        del garbage
        await asyncio.sleep(0.15)  # ... is freed by the next full round
        assert gone() is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()
