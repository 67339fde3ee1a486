"""Group commit for inbound messages (ADR 0002): concurrent `receive` calls of one process
share a transaction (kit/groupcommit.py), so a burst costs one commit instead of one per
message. Each caller still returns only after the commit that stored its message."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.receiving import Received, receive_many
from frontdesk.db import Database
from frontdesk.inboxes.port import Inbound
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.groupcommit import GroupCommit


class Ingestor:
    def __init__(self, db: Database, blobs: BlobStore, *, writers: int = 1) -> None:
        self.blobs = blobs
        self._group: GroupCommit[Inbound, Received] = GroupCommit(
            db, self._write_many, writers=writers, name="ingest"
        )

    async def receive(self, inbound: Inbound) -> Received:
        """Store one inbound message; returns once it is committed (or raises why not)."""
        return await self._group.submit(inbound)

    async def stop(self) -> None:
        await self._group.stop()

    async def _write_many(
        self, session: AsyncSession, inbounds: list[Inbound]
    ) -> Sequence[Received | Exception]:
        return await receive_many(session, inbounds, blobs=self.blobs)
