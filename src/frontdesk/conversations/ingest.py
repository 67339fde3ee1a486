"""Group commit for inbound messages: concurrent `receive` calls of one process share a
transaction, so a burst costs one commit (and one event-log lock) instead of one per message.

Acknowledgement semantics are unchanged: each caller's future resolves only after the commit
that stored its message. Idle latency is unchanged too: a batch is whatever queued while the
previous one was committing, so a lone message is committed at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.base import Inbound
from frontdesk.conversations.receiving import Received, receive, receive_many
from frontdesk.db import Database
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import FrontdeskError

log = logging.getLogger(__name__)

# Bounded so one transaction stays short (and SQLite's write lock is held briefly).
MAX_BATCH = 64


@dataclass
class _Pending:
    inbound: Inbound
    future: asyncio.Future[Received]


@dataclass
class Ingestor:
    db: Database
    blobs: BlobStore
    writers: int = 1
    _queue: asyncio.Queue[_Pending] = field(default_factory=asyncio.Queue)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def receive(self, inbound: Inbound) -> Received:
        """Store one inbound message; returns once it is committed (or raises why not)."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._write_loop()) for _ in range(self.writers)]
        future: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(inbound, future))
        return await future

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception as exc:  # never let the loop die: fail the callers, keep going
                log.exception("ingest batch failed")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _write(self, batch: list[_Pending]) -> None:
        if len(batch) > 1 and await self._write_together(batch):
            return
        for item in batch:
            if item.future.done():
                continue
            async with self.db.session() as session:

                async def work(
                    session: AsyncSession = session, inbound: Inbound = item.inbound
                ) -> Received:
                    return await receive(session, inbound, blobs=self.blobs)

                try:
                    result = await uow.retrying(session, work)
                except Exception as exc:
                    item.future.set_exception(exc)
                else:
                    item.future.set_result(result)

    async def _write_together(self, batch: list[_Pending]) -> bool:
        """One transaction for the whole batch; False (nothing committed) if it must be split,
        e.g. when another process raced us on a unique key."""
        async with self.db.session() as session:
            try:
                outcomes = await receive_many(
                    session, [item.inbound for item in batch], blobs=self.blobs
                )
                await uow.commit(session)
            except Exception:
                await uow.rollback(session)
                return False
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, FrontdeskError):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)
        return True
