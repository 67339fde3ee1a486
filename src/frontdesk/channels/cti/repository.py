"""All SQL of the CTI channel: calls by the PBX's id, agents by extension, AMI leases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.channels.cti.models import AmiLease
from frontdesk.conversations.models import Message
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox


async def call_for_update(session: AsyncSession, inbox_id: int, call_id: str) -> Message | None:
    """The call's message, locked until commit (PostgreSQL) so that two events of one call
    apply one after the other; SQLite writes one at a time anyway."""
    # Uses index: uq_messages_inbox_id (inbox_id, external_id).
    return await session.scalar(
        select(Message)
        .where(Message.inbox_id == inbox_id, Message.external_id == call_id)
        .with_for_update()
    )


async def agent_by_extension(session: AsyncSession, extension: str) -> Agent | None:
    return await session.scalar(
        select(Agent).where(Agent.extension == extension, Agent.active.is_(True))
    )


async def customer_messages(session: AsyncSession, customer_id: int) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Message).where(Message.customer_id == customer_id)
    )
    return int(found or 0)


async def ami_inboxes(session: AsyncSession) -> list[Inbox]:
    """Active CTI inboxes (the caller keeps those with an AMI host)."""
    rows = await session.scalars(
        select(Inbox).where(Inbox.channel == "cti", Inbox.active.is_(True)).order_by(Inbox.id)
    )
    return list(rows.all())


async def take_lease(session: AsyncSession, inbox_id: int, *, owner: str, seconds: float) -> bool:
    """Take or renew the AMI lease of an inbox; False while another process holds it."""
    now = utcnow()
    if await session.get(AmiLease, inbox_id) is None:
        session.add(AmiLease(inbox_id=inbox_id))
        await session.flush()
    result = await session.execute(
        update(AmiLease)
        .where(
            AmiLease.inbox_id == inbox_id,
            or_(
                AmiLease.lease_owner.is_(None),
                AmiLease.lease_owner == owner,
                AmiLease.lease_until < now,
            ),
        )
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
    )
    return bool(getattr(result, "rowcount", 0))


async def release_lease(session: AsyncSession, inbox_id: int, *, owner: str) -> None:
    await session.execute(
        update(AmiLease)
        .where(AmiLease.inbox_id == inbox_id, AmiLease.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


async def note_error(session: AsyncSession, inbox_id: int, error: str | None) -> None:
    await session.execute(
        update(AmiLease).where(AmiLease.inbox_id == inbox_id).values(last_error=error)
    )
