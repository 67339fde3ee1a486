"""Group commit for inbound messages (ADR 0002): concurrent `receive` calls of one process
share a transaction (kit/groupcommit.py), so a burst costs one commit instead of one per
message. Each caller still returns only after the commit that stored its message. A
provider's notices (delivery statuses, edits) of one webhook ride in the same batches
(`apply`): a status callback costs a share of a commit, not a transaction of its own."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.delivery import Notice, apply_notices
from frontdesk.conversations.models import Message
from frontdesk.conversations.receiving import Received, receive_many
from frontdesk.db import Database
from frontdesk.inboxes.port import Inbound
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import FrontdeskError, Invalid, Unavailable
from frontdesk.kit.groupcommit import GroupCommit

log = logging.getLogger(__name__)


@dataclass
class _Notices:
    """The notices of one webhook: applied together, in order, in one transaction."""

    notices: list[Notice]


_Item = Inbound | _Notices
_Outcome = Received | list[Message | None]


class Ingestor:
    def __init__(self, db: Database, blobs: BlobStore, *, writers: int = 1) -> None:
        self.blobs = blobs
        self._group: GroupCommit[_Item, _Outcome] = GroupCommit(
            db, self._write_many, writers=writers, name="ingest"
        )

    async def receive(self, inbound: Inbound) -> Received:
        """Store one inbound message; returns once it is committed (or raises why not)."""
        return cast(Received, await self._group.submit(inbound))

    async def apply(self, notices: list[Notice]) -> list[Message | None]:
        """Apply a webhook's notices (delivery.apply_notices), in order, in one transaction;
        returns once committed: the message each landed on, or None where it was kept until
        its message comes. Raises Invalid (nothing applied) for an unknown status, and
        Unavailable when a retry can succeed."""
        if not notices:
            return []
        try:
            outcome = await self._group.submit(_Notices(notices))
        except FrontdeskError:
            raise
        except Exception as exc:
            if uow.is_temporary(exc):
                log.warning("provider notices not applied yet: %r", exc)
                raise Unavailable("not applied; try again later") from exc
            raise
        return cast(list[Message | None], outcome)

    async def take(self, inbound: Inbound) -> Received:
        """`receive` for a request that must be answered: see `stored_or_refused`."""
        return await stored_or_refused(self.receive(inbound), inbound)

    async def stop(self) -> None:
        await self._group.stop()

    async def _write_many(
        self, session: AsyncSession, items: list[_Item]
    ) -> Sequence[_Outcome | Exception]:
        """The batch's messages first (receive_many), then its notices in order: a notice
        about a message of the same batch finds it stored, as it would one batch later."""
        inbounds = [item for item in items if isinstance(item, Inbound)]
        received = iter(await receive_many(session, inbounds, blobs=self.blobs) if inbounds else [])
        groups = [item for item in items if isinstance(item, _Notices)]
        applied = iter(await _apply_groups(session, groups))
        return [next(received) if isinstance(item, Inbound) else next(applied) for item in items]


async def _apply_groups(
    session: AsyncSession, groups: list[_Notices]
) -> list[list[Message | None] | Exception]:
    """Each webhook's notices; one with an unknown status is refused alone (nothing of it
    written), the others applied with one query for all their messages."""
    outcomes: list[list[Message | None] | Exception] = []
    valid: list[Notice] = []
    for group in groups:
        try:
            for notice in group.notices:
                notice.stored()
        except FrontdeskError as exc:
            outcomes.append(exc)
            continue
        outcomes.append([])
        valid.extend(group.notices)
    landed = iter(await apply_notices(session, valid) if valid else [])
    for group, outcome in zip(groups, outcomes, strict=True):
        if isinstance(outcome, list):
            outcome.extend(next(landed) for _ in group.notices)
    return outcomes


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
