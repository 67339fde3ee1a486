"""Long polling for bots in `polling` mode (no public URL needed, e.g. the demo): getUpdates
with the stored offset, under a database lease so that one process polls each bot. The offset
commits with the updates it confirms (service.store_batch)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.telegram import repository, service
from frontdesk.channels.telegram.adapter import update_of
from frontdesk.channels.telegram.check import ALLOWED_UPDATES
from frontdesk.channels.telegram.client import BotApi
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)
# How often the set of polling bots is re-read (a new inbox starts polling within this).
REFRESH_SECONDS = 10.0
# Updates asked for per getUpdates call (Telegram's maximum is 100).
BATCH = 100
MIN_POLL_SECONDS = 1.0


class BotPoll:
    """One bot, polled by the process that holds its lease."""

    def __init__(self, runtime: Runtime, inbox_id: int, *, owner: str) -> None:
        self.runtime = runtime
        self.inbox_id = inbox_id
        self.owner = owner
        self.lease_seconds = runtime.settings.imap_lease_seconds

    async def _inbox(self) -> Inbox:
        async with self.runtime.db.session() as session:
            inbox = await session.get(Inbox, self.inbox_id)
            await session.commit()
        if inbox is None or not inbox.active or inbox.settings.get("mode") != "polling":
            raise service.LeaseLost("inbox gone, inactive or not polling")
        return opened_inbox(inbox, self.runtime.settings)

    async def acquire(self) -> bool:
        db = self.runtime.db
        async with db.session() as session:
            if await repository.get_poll(session, self.inbox_id) is None:
                try:
                    await repository.add_poll(session, self.inbox_id)
                    await uow.commit(session)
                except IntegrityError:
                    await uow.rollback(session)  # another process created it first
        async with db.session() as session:
            got = await repository.take_lease(
                session, self.inbox_id, owner=self.owner, seconds=self.lease_seconds
            )
            await uow.commit(session)
        return got

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            async with self.runtime.db.session() as session:
                await repository.release_lease(session, self.inbox_id, owner=self.owner)
                await uow.commit(session)

    async def once(self, *, timeout: int | None = None) -> int:
        """Take the lease, fetch one batch past the stored offset, store it; how many updates
        were new (stored or edits)."""
        if not await self.acquire():
            return 0
        inbox = await self._inbox()
        async with self.runtime.db.session() as session:
            poll = await repository.get_poll(session, self.inbox_id)
            offset = poll.next_offset if poll is not None else 0
            await session.commit()
        wait = inbox.settings.get("poll_timeout_seconds", 25) if timeout is None else timeout
        wait = min(int(wait), int(self.lease_seconds / 3))
        api = BotApi(inbox.settings, self.runtime.settings, timeout=wait + 10)
        raw = await api.call(
            "getUpdates",
            {"offset": offset, "limit": BATCH, "timeout": wait, "allowed_updates": ALLOWED_UPDATES},
        )
        items = raw if isinstance(raw, list) else []
        batch = []
        for item in items:
            try:
                update = update_of(item)
            except FrontdeskError as exc:  # poison update: skip it, never block the bot
                log.warning("telegram inbox %s: update skipped: %s", self.inbox_id, exc)
                update_id = item.get("update_id") if isinstance(item, dict) else None
                if isinstance(update_id, int):
                    update = update_of({"update_id": update_id})
                else:
                    continue
            batch.append(await service.prepare(inbox, update, self.runtime.settings))
        return await self._store(inbox, batch)

    async def _store(self, inbox: Inbox, batch: list[Any]) -> int:
        if not batch:
            return 0
        async with self.runtime.db.session() as session:
            taken = await uow.retrying(
                session,
                lambda: service.store_batch(self.runtime, session, inbox, batch, owner=self.owner),
            )
        for outcome in taken:
            if outcome.status in ("stored", "duplicate"):
                MESSAGES.labels(direction="inbound", outcome=outcome.status).inc()
        return sum(1 for outcome in taken if outcome.status in ("stored", "edited"))

    async def failed(self, error: str) -> int:
        async with self.runtime.db.session() as session:
            failures = await repository.record_failure(session, self.inbox_id, error)
            await uow.commit(session)
        return failures


class TelegramPoller:
    """One per process: a watcher per polling bot; each polls only while it holds the lease,
    so any number of processes may run one."""

    def __init__(self, runtime: Runtime, *, name: str | None = None) -> None:
        self.runtime = runtime
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:telegram"
        self.watchers: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="telegram-poller")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self.watchers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for inbox_id in list(self.watchers):
            await BotPoll(self.runtime, inbox_id, owner=self.name).release()
        self.watchers.clear()

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("listing telegram inboxes failed")
            await asyncio.sleep(REFRESH_SECONDS)

    async def refresh(self) -> None:
        async with self.runtime.db.session() as session:
            async with uow.reading(session):
                inboxes = await repository.polling_inboxes(session)
            await session.commit()
        wanted = {inbox.id for inbox in inboxes}
        for inbox_id in set(self.watchers) - wanted:
            self.watchers.pop(inbox_id).cancel()
        for inbox_id in wanted - set(self.watchers):
            self.watchers[inbox_id] = asyncio.create_task(self.watch(inbox_id))

    async def watch(self, inbox_id: int) -> None:
        poll = BotPoll(self.runtime, inbox_id, owner=self.name)
        failures = 0
        while True:
            try:
                if not await poll.acquire():
                    await asyncio.sleep(poll.lease_seconds / 2)
                    continue
                started = asyncio.get_running_loop().time()
                await poll.once()
                failures = 0
                # Telegram holds an empty getUpdates for its timeout; one that answered at
                # once (timeout 0, a proxy) must not turn this loop into a busy one.
                if asyncio.get_running_loop().time() - started < MIN_POLL_SECONDS:
                    await asyncio.sleep(MIN_POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except service.LeaseLost as exc:
                log.info("telegram inbox %s: %s", inbox_id, exc)
                await asyncio.sleep(poll.lease_seconds / 2)
            except Exception as exc:
                error = f"{exc.__class__.__name__}: {exc}"
                log.warning("telegram inbox %s polling failed: %s", inbox_id, error)
                with contextlib.suppress(Exception):
                    failures = await poll.failed(error)
                await asyncio.sleep(min(2 ** min(failures, 8), 300.0))
