"""Small readers of what the database holds, for e-mail tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from frontdesk.channels.email.models import Quarantined
from frontdesk.conversations.models import Conversation, Message
from frontdesk.kit.events import Event
from frontdesk.runtime import Runtime


async def count(runtime: Runtime, model: Any, *where: Any) -> int:
    async with runtime.db.session() as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        value = int(await session.scalar(query) or 0)
        await session.commit()
        return value


async def messages(runtime: Runtime, *where: Any) -> list[Message]:
    async with runtime.db.session() as session:
        query = select(Message).order_by(Message.id)
        for clause in where:
            query = query.where(clause)
        rows = list((await session.scalars(query)).all())
        await session.commit()  # keeps the rows loaded (expire_on_commit is off)
        return rows


async def message_by_external(runtime: Runtime, external_id: str) -> Message | None:
    async with runtime.db.session() as session:
        row = await session.scalar(select(Message).where(Message.external_id == external_id))
        await session.commit()
        return row


async def conversations(runtime: Runtime) -> list[Conversation]:
    async with runtime.db.session() as session:
        rows = list((await session.scalars(select(Conversation).order_by(Conversation.id))).all())
        await session.commit()
        return rows


async def events(runtime: Runtime, type: str) -> list[Event]:
    async with runtime.db.session() as session:
        rows = list((await session.scalars(select(Event).where(Event.type == type))).all())
        await session.commit()
        return rows


async def quarantined(runtime: Runtime) -> list[Quarantined]:
    async with runtime.db.session() as session:
        rows = list((await session.scalars(select(Quarantined).order_by(Quarantined.id))).all())
        await session.commit()
        return rows
