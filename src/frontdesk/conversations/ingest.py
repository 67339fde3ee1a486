"""Group commit for inbound messages (ADR 0002): concurrent `receive` calls of one process
share a transaction (kit/groupcommit.py), so a burst costs one commit instead of one per
message. Each caller still returns only after the commit that stored its message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.receiving import Received, receive_many
from frontdesk.db import Database
from frontdesk.inboxes.port import Inbound
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import FrontdeskError, Invalid, Unavailable
from frontdesk.kit.groupcommit import GroupCommit

log = logging.getLogger(__name__)


class Ingestor:
    def __init__(self, db: Database, blobs: BlobStore, *, writers: int = 1) -> None:
        self.blobs = blobs
        self._group: GroupCommit[Inbound, Received] = GroupCommit(
            db, self._write_many, writers=writers, name="ingest"
        )

    async def receive(self, inbound: Inbound) -> Received:
        """Store one inbound message; returns once it is committed (or raises why not)."""
        return await self._group.submit(inbound)

    async def take(self, inbound: Inbound) -> Received:
        """`receive` for a request that must be answered: see `stored_or_refused`."""
        return await stored_or_refused(self.receive(inbound), inbound)

    async def stop(self) -> None:
        await self._group.stop()

    async def _write_many(
        self, session: AsyncSession, inbounds: list[Inbound]
    ) -> Sequence[Received | Exception]:
        return await receive_many(session, inbounds, blobs=self.blobs)


async def stored_or_refused(work: Awaitable[Received], inbound: Inbound) -> Received:
    """Stored, or refused with a clear answer: 503 when a retry can succeed (the database is
    down or busy), 422 when the message failed alone for a reason a retry cannot cure, so a
    sender (an API client, a provider's webhook) never retries such a message for ever."""
    try:
        return await work
    except FrontdeskError:
        raise
    except Exception as exc:
        if uow.is_temporary(exc):
            log.warning("inbound message not stored yet: %r", exc)
            raise Unavailable("not stored; try again later") from exc
        log.exception("inbound message %r cannot be stored", inbound.external_id)
        raise Invalid("this message cannot be stored", code="not_storable") from exc
