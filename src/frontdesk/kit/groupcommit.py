"""Group commit: concurrent callers of one process share a transaction, so a burst costs one
commit (and one event-log lock) instead of one per item (ADR 0002).

Each caller's future resolves only after the commit that stored its item. Idle latency is
unchanged: a batch is whatever queued while the previous one was committing, so a lone item
is committed at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import Database
from frontdesk.kit import pressure, uow
from frontdesk.kit.sqlite import URGENT

log = logging.getLogger(__name__)

# Bounded so one transaction stays short (and SQLite's write lock is held briefly).
MAX_BATCH = 64

T = TypeVar("T")
R = TypeVar("R")

# Stores a batch in the session without committing, one outcome per item in order. An
# exception *returned* in an item's place fails that item alone (it was refused before
# anything of it was written); an exception *raised* rolls the batch back, which is then
# replayed one item per transaction.
WriteMany = Callable[[AsyncSession, list[T]], Awaitable[Sequence[R | Exception]]]
# Stores what is left of an item whose write failed alone, for a reason a retry cannot cure
# (kit.uow.is_temporary is False), e.g. e-mail's quarantine; committed in a fresh transaction.
Rescue = Callable[[AsyncSession, T, Exception], Awaitable[R]]


@dataclass
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]


class GroupCommit(Generic[T, R]):
    """`linger`: under load — the previous batch had company — wait up to this long for as
    many callers as that batch had before writing the next one (the callers it released
    usually come straight back: fewer, bigger commits). A caller after a quiet spell is never
    kept waiting."""

    def __init__(
        self,
        db: Database,
        write_many: WriteMany[T, R],
        *,
        writers: int = 1,
        linger: float = 0.0,
        name: str = "batch",
        rescue: Rescue[T, R] | None = None,
    ) -> None:
        self.db = db
        self.write_many = write_many
        self.rescue = rescue
        self.writers = writers
        self.linger = linger
        self.name = name
        self._queue: asyncio.Queue[_Pending[T, R]] = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, item: T) -> R:
        """Store one item; returns once it is committed (or raises why not)."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._write_loop(), name=f"{self.name}-writer")
                for _ in range(self.writers)
            ]
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        with pressure.serving():  # a sender waits: background jobs give way (kit.pressure)
            await self._queue.put(_Pending(item, future))
            self._arrived.set()
            return await future

    async def stop(self) -> None:
        """Stop the writers; callers still waiting learn that nothing of theirs was committed
        by the batch in flight (it is rolled back) or never started."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while not self._queue.empty():
            _fail([self._queue.get_nowait()], uow.TryLater(f"{self.name}: shutting down"))

    async def _write_loop(self) -> None:
        # Senders wait on every commit of this loop: on SQLite its transactions go ahead of
        # background writers for the write lock (kit.sqlite.WriterQueue), and its sessions come
        # from a pool of their own (db.Database.session). The writer task's own context, so
        # nothing else is marked.
        URGENT.set(True)
        previous = 1
        while True:
            batch = [await self._queue.get()]
            if previous > 1 and self.linger > 0:
                await self._wait_for_company(previous - 1)
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            previous = len(batch)
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                _fail(batch, uow.TryLater(f"{self.name}: shutting down"))
                raise
            except Exception as exc:  # never let the loop die: fail the callers, keep going
                log.exception("%s: group commit failed", self.name)
                _fail(batch, exc)

    async def _wait_for_company(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger
        while self._queue.qsize() < count:
            self._arrived.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def _write(self, batch: list[_Pending[T, R]]) -> None:
        if len(batch) > 1 and await self._write_together(batch):
            return
        for pending in batch:
            if pending.future.done():  # the caller went away (cancelled)
                continue
            async with self.db.session() as session:

                async def work(session: AsyncSession = session, item: T = pending.item) -> R:
                    [outcome] = await self.write_many(session, [item])
                    if isinstance(outcome, Exception):
                        raise _Refused(outcome)
                    return outcome

                try:
                    result = await uow.retrying(session, work)
                except _Refused as refused:  # the writer's answer for this item, not a failure
                    await uow.rollback(session)
                    pending.future.set_exception(refused.reason)
                except Exception as exc:
                    await uow.rollback(session)
                    await self._rescue(session, pending, exc)
                else:
                    pending.future.set_result(result)

    async def _rescue(self, session: AsyncSession, pending: _Pending[T, R], exc: Exception) -> None:
        """The item failed on its own: its caller learns why, unless `rescue` keeps what is
        left of it (then the caller gets that, once committed)."""
        rescue = self.rescue
        if rescue is None or uow.is_temporary(exc):
            pending.future.set_exception(exc)
            return
        log.warning("%s: an item failed for good (%r); rescuing it", self.name, exc)
        try:
            result = await uow.retrying(session, lambda: rescue(session, pending.item, exc))
        except Exception as again:
            await uow.rollback(session)
            log.exception("%s: rescuing an item failed", self.name)
            pending.future.set_exception(again)
        else:
            pending.future.set_result(result)

    async def _write_together(self, batch: list[_Pending[T, R]]) -> bool:
        """One transaction for the whole batch; False (nothing committed) if it must be split,
        e.g. when another process raced us on a unique key."""
        async with self.db.session() as session:
            try:
                outcomes = await self.write_many(session, [pending.item for pending in batch])
                await uow.commit(session)
            except Exception:
                await uow.rollback(session)
                return False
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if isinstance(outcome, Exception):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)
        return True


class _Refused(Exception):
    def __init__(self, reason: Exception) -> None:
        super().__init__(str(reason))
        self.reason = reason


def _fail(batch: list[_Pending[T, R]], exc: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)
