"""The periodic collect-and-freeze round (kit/gcfreeze.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref

from frontdesk.kit.gcfreeze import THRESHOLDS, freeze_periodically, settle


class Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_freezes_survivors_and_still_frees_cyclic_garbage() -> None:
    task = asyncio.create_task(freeze_periodically(0.05, full_every=0.2))
    try:
        await asyncio.sleep(0.12)
        assert gc.get_freeze_count() > 0
        garbage = Cycle()
        gone = weakref.ref(garbage)
        gc.collect(1)
        gc.freeze()  # garbage that got frozen ...
        del garbage
        await asyncio.sleep(0.3)  # ... is freed by the next full round
        assert gone() is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()


async def test_each_round_frees_old_garbage_that_is_not_frozen() -> None:
    """Garbage that reached the oldest generation since the last round is freed by the next
    ordinary round (no unfreeze needed): the collector's own old-generation passes stay small."""
    task = asyncio.create_task(freeze_periodically(0.05, full_every=3600))
    try:
        await asyncio.sleep(0.08)
        garbage = Cycle()
        gone = weakref.ref(garbage)
        gc.collect(1)  # promoted to the oldest generation, not frozen
        del garbage
        assert gone() is not None
        await asyncio.sleep(0.1)
        assert gone() is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()


def test_settle_frees_cyclic_garbage_freezes_the_rest_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    gc.unfreeze()
    kept, garbage = Cycle(), Cycle()
    gone = weakref.ref(garbage)
    del garbage
    try:
        settle()
        assert gone() is None  # collected, not frozen
        assert gc.get_freeze_count() > 0
        assert all(kept is not obj for obj in gc.get_objects())  # frozen: out of the lists
        assert gc.get_threshold() == THRESHOLDS
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
