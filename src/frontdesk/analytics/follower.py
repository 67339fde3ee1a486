"""The loop that keeps the rollups a second or so behind the event log, in every process
that runs jobs. Several may run at once: each round locks the cursor without waiting, so
one folds while the others skip."""

from __future__ import annotations

import asyncio
import logging

from frontdesk.analytics import service
from frontdesk.db import Database
from frontdesk.kit import uow

log = logging.getLogger(__name__)


async def follow(db: Database, every: float) -> None:
    while True:
        try:
            while await _round(db):
                pass
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; nothing was committed
            log.exception("analytics catch-up failed")
        await asyncio.sleep(every)


async def _round(db: Database) -> bool:
    async with db.session() as session:
        # The lag in a read of its own (SQLite: outside the write lock); the write
        # transaction only when there is something to fold.
        async with uow.reading(session):
            behind = await service.lag(session)
        if behind == 0:
            await uow.commit(session)
            return False
        done = await service.catch_up(session, wait=False)
        await uow.commit(session)
        return done > 0
