"""Inbox rows for the hot inbound path (signature check), kept a few seconds per process.

A rotated secret or a deactivated inbox takes effect at once in the process that changed it
and within TTL_SECONDS everywhere else; `receive` re-reads the inbox in its own transaction,
so a deactivated inbox never stores anything."""

from __future__ import annotations

import time

from frontdesk.db import Database
from frontdesk.inboxes import repository
from frontdesk.inboxes.models import Inbox

TTL_SECONDS = 5.0


class InboxCache:
    def __init__(self, db: Database, ttl: float = TTL_SECONDS) -> None:
        self.db = db
        self.ttl = ttl
        self._rows: dict[int, tuple[float, Inbox]] = {}

    async def get(self, inbox_id: int) -> Inbox | None:
        cached = self._rows.get(inbox_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        async with self.db.session() as session:
            inbox = await repository.get_inbox(session, inbox_id)
        if inbox is not None:  # unknown ids are not remembered: the inbox may be created soon
            self._rows[inbox_id] = (time.monotonic(), inbox)
        return inbox

    def forget(self, inbox_id: int) -> None:
        self._rows.pop(inbox_id, None)
