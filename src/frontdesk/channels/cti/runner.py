"""The AMI connections: one per CTI inbox with an `ami_host`, held by the one process that
holds the inbox's database lease (any number of processes may run this runner). A dropped
connection is opened again with exponential backoff (1 s doubling to 60 s); the lease is
renewed at a third of its length, and a process that loses it disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING

from pydantic import ValidationError

from frontdesk.channels.cti import repository, service
from frontdesk.channels.cti.adapter import settings_of
from frontdesk.channels.cti.ami import AmiCalls, AmiConnection
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)
REFRESH_SECONDS = 10.0
MAX_BACKOFF = 60.0


class LeaseLost(Exception):
    pass


class AmiRunner:
    def __init__(self, runtime: Runtime, *, name: str | None = None) -> None:
        self.runtime = runtime
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self)}:ami"
        self.lease_seconds = runtime.settings.imap_lease_seconds
        self.watchers: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        # Tests shorten these.
        self.refresh_seconds = REFRESH_SECONDS
        self.first_backoff = 1.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="ami-runner")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self.watchers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for inbox_id in list(self.watchers):
            with contextlib.suppress(Exception):
                await self._release(inbox_id)
        self.watchers.clear()

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("listing CTI inboxes failed")
            await asyncio.sleep(self.refresh_seconds)

    async def refresh(self) -> None:
        async with self.runtime.db.session() as session:
            async with uow.reading(session):
                inboxes = await repository.ami_inboxes(session)
            await session.commit()
        wanted = {inbox.id for inbox in inboxes if inbox.settings.get("ami_host")}
        for inbox_id in set(self.watchers) - wanted:
            self.watchers.pop(inbox_id).cancel()
        for inbox_id in wanted - set(self.watchers):
            self.watchers[inbox_id] = asyncio.create_task(self.watch(inbox_id))

    async def _lease(self, inbox_id: int) -> bool:
        async with self.runtime.db.session() as session:
            return await uow.retrying(
                session,
                lambda: repository.take_lease(
                    session, inbox_id, owner=self.name, seconds=self.lease_seconds
                ),
            )

    async def _release(self, inbox_id: int) -> None:
        async with self.runtime.db.session() as session:
            await repository.release_lease(session, inbox_id, owner=self.name)
            await uow.commit(session)

    async def _note(self, inbox_id: int, error: str | None) -> None:
        with contextlib.suppress(Exception):
            async with self.runtime.db.session() as session:
                await repository.note_error(session, inbox_id, error)
                await uow.commit(session)

    async def _inbox(self, inbox_id: int) -> Inbox:
        async with self.runtime.db.session() as session:
            inbox = await session.get(Inbox, inbox_id)
            await session.commit()
        if inbox is None or not inbox.active or not inbox.settings.get("ami_host"):
            raise LeaseLost("inbox gone, inactive or without AMI")
        return opened_inbox(inbox, self.runtime.settings)

    async def watch(self, inbox_id: int) -> None:
        backoff = self.first_backoff
        while True:
            try:
                if not await self._lease(inbox_id):
                    await asyncio.sleep(self.lease_seconds / 3)
                    continue
                await self.connected(inbox_id)
            except asyncio.CancelledError:
                raise
            except LeaseLost as exc:
                log.info("AMI of inbox %s: %s", inbox_id, exc)
                await asyncio.sleep(self.lease_seconds / 3)
                continue
            except Exception as exc:
                error = f"{exc.__class__.__name__}: {exc}"
                log.warning("AMI of inbox %s: %s (again in %.0f s)", inbox_id, error, backoff)
                await self._note(inbox_id, error[:500])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = self.first_backoff

    async def connected(self, inbox_id: int) -> None:
        """One AMI session: read events until the connection drops or the lease is lost."""
        inbox = await self._inbox(inbox_id)
        conf = settings_of(inbox)
        assert conf.ami_host is not None
        connection = await AmiConnection.open(
            conf.ami_host, conf.ami_port,
            username=conf.ami_username or "", secret=conf.ami_secret or "",
        )  # fmt: skip
        await self._note(inbox_id, None)
        renew = asyncio.create_task(self._renew(inbox_id))
        reading = asyncio.create_task(self._events(inbox, connection))
        try:
            done, _ = await asyncio.wait({renew, reading}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (renew, reading):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await connection.close()

    async def _renew(self, inbox_id: int) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if not await self._lease(inbox_id):
                raise LeaseLost("another process holds the AMI lease")

    async def _events(self, inbox: Inbox, connection: AmiConnection) -> None:
        calls = AmiCalls()
        while True:
            packet = await connection.event()
            try:
                events = calls.read(packet)
            except ValidationError as exc:
                log.warning("AMI event of inbox %s not understood: %s", inbox.id, exc)
                continue
            for event in events:
                try:
                    await service.apply(self.runtime, inbox, event)
                except FrontdeskError as exc:
                    log.warning("AMI %s of call %s refused: %s", event.event, event.call_id, exc)


def ami_runner(runtime: Runtime) -> AmiRunner | None:
    """Where jobs run (the embedded server, `frontdesk worker`)."""
    if runtime.runner is None:
        return None
    return AmiRunner(runtime)
