"""Inbox rows for the hot inbound path (signature check), kept a few seconds per process.

A rotated secret or a deactivated inbox takes effect at once in the process that changed it
and within TTL_SECONDS everywhere else; `receive` re-reads the inbox in its own transaction,
so a deactivated inbox never stores anything. When a row expires under load, one read
refreshes it and the requests that arrive meanwhile wait for that read instead of each
opening a session of its own (on SQLite, each would queue for the write lock)."""

from __future__ import annotations

import asyncio
import time

from frontdesk.db import Database
from frontdesk.inboxes import repository
from frontdesk.inboxes.models import Inbox
from frontdesk.kit import uow

TTL_SECONDS = 5.0


class InboxCache:
    def __init__(self, db: Database, ttl: float = TTL_SECONDS) -> None:
        self.db = db
        self.ttl = ttl
        self._rows: dict[int, tuple[float, Inbox]] = {}
        self._reads: dict[int, asyncio.Future[Inbox | None]] = {}

    async def get(self, inbox_id: int) -> Inbox | None:
        cached = self._rows.get(inbox_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        read = self._reads.get(inbox_id)
        if read is None:
            read = self._reads[inbox_id] = asyncio.ensure_future(self._read(inbox_id))
            read.add_done_callback(lambda done: self._read_done(inbox_id, done))
        # Shielded: a caller that goes away does not cancel the others' read.
        return await asyncio.shield(read)

    async def _read(self, inbox_id: int) -> Inbox | None:
        async with self.db.session() as session, uow.reading(session):
            return await repository.get_inbox(session, inbox_id)

    def _read_done(self, inbox_id: int, read: asyncio.Future[Inbox | None]) -> None:
        if self._reads.get(inbox_id) is not read:
            return  # forgotten while it ran: what it read may be out of date
        del self._reads[inbox_id]
        inbox = None if read.cancelled() or read.exception() else read.result()
        if inbox is not None:  # unknown ids are not remembered: the inbox may be created soon
            self._rows[inbox_id] = (time.monotonic(), inbox)

    def forget(self, inbox_id: int) -> None:
        self._rows.pop(inbox_id, None)
        self._reads.pop(inbox_id, None)
