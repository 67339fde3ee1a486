"""All SQL of the Telegram channel: the polling bots, their offsets and leases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.telegram.models import TelegramPoll
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox


async def polling_inboxes(session: AsyncSession) -> Sequence[Inbox]:
    rows = await session.scalars(
        select(Inbox).where(Inbox.channel == "telegram", Inbox.active.is_(True))
    )
    return [inbox for inbox in rows.all() if inbox.settings.get("mode") == "polling"]


async def get_poll(session: AsyncSession, inbox_id: int) -> TelegramPoll | None:
    return await session.get(TelegramPoll, inbox_id)


async def add_poll(session: AsyncSession, inbox_id: int) -> None:
    """The bot's poll row (the caller commits; a concurrent creator makes it IntegrityError)."""
    session.add(TelegramPoll(inbox_id=inbox_id, next_offset=0, imported=0, failures=0))
    await session.flush()


async def take_lease(session: AsyncSession, inbox_id: int, *, owner: str, seconds: float) -> bool:
    now = utcnow()
    result = await session.execute(
        update(TelegramPoll)
        .where(
            TelegramPoll.inbox_id == inbox_id,
            or_(
                TelegramPoll.lease_owner.is_(None),
                TelegramPoll.lease_owner == owner,
                TelegramPoll.lease_until < now,
            ),
        )
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_lease(session: AsyncSession, inbox_id: int, *, owner: str) -> None:
    await session.execute(
        update(TelegramPoll)
        .where(TelegramPoll.inbox_id == inbox_id, TelegramPoll.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def advance(
    session: AsyncSession, inbox_id: int, *, owner: str, next_offset: int, imported: int
) -> bool:
    """Move the offset forward, only for the lease holder (a process that lost the lease
    must not overwrite the new holder's progress)."""
    result = await session.execute(
        update(TelegramPoll)
        .where(
            TelegramPoll.inbox_id == inbox_id,
            TelegramPoll.lease_owner == owner,
        )
        .values(
            next_offset=case(
                (TelegramPoll.next_offset < next_offset, next_offset),
                else_=TelegramPoll.next_offset,
            ),
            imported=TelegramPoll.imported + imported,
            failures=0,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_failure(session: AsyncSession, inbox_id: int, error: str) -> int:
    poll = await session.get(TelegramPoll, inbox_id)
    if poll is None:
        return 1
    poll.failures += 1
    poll.last_error = error[:4000]
    return poll.failures
