"""The loop that keeps the rollups a second or so behind the event log, in every process
that runs jobs. Several may run at once: each round locks the cursor without waiting, so
one folds while the others skip. While the process serves someone (SQLite's embedded
`frontdesk serve` under load) it folds smaller rounds at a background pace (kit.pressure):
a round of a second's events held the write lock and the event loop long enough to set the
acknowledgements' p99 (bench/channels.py)."""

from __future__ import annotations

import asyncio
import logging
import time

from frontdesk.analytics import service
from frontdesk.db import Database
from frontdesk.kit import pressure, uow

log = logging.getLogger(__name__)


# Events folded per round while the process is busy (~10 ms of work on SQLite).
BUSY_ROUND = 250


async def follow(db: Database, every: float, share: float = 1.0) -> None:
    pace = pressure.Pace(share)
    while True:
        try:
            while True:
                if wait := pace.wait():
                    await asyncio.sleep(wait)
                started = time.monotonic()
                limit = BUSY_ROUND if pressure.busy() else service.BATCH
                folded = await _round(db, limit)
                pace.spent(started)
                # Again at once only when behind (a full round); what arrived meanwhile
                # waits for the next poll (each round has a fixed cost of a few ms: rounds
                # of the few events of a busy moment, back to back, cost a fifth of a core).
                if folded < limit:
                    break
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; nothing was committed
            log.exception("analytics catch-up failed")
        await asyncio.sleep(every)


async def _round(db: Database, limit: int = service.BATCH) -> int:
    """Fold up to `limit` events: how many were folded."""
    async with db.session() as session:
        # The lag in a read of its own (SQLite: outside the write lock); the write
        # transaction only when there is something to fold.
        async with uow.reading(session):
            behind = await service.lag(session)
        if behind == 0:
            await uow.commit(session)
            return 0
        done = await service.catch_up(session, limit=limit, wait=False)
        await uow.commit(session)
        return done
