"""The bot's job: each customer message of a conversation, after its commit, from the event
log (one job per event; the dialogue's last_message_id makes a retry answer nothing twice)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.bot import repository, service
from frontdesk.kit.jobs import handler, on_event

ANSWER_JOB = "bot.answer"


def _customer_wrote(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return (
        payload.get("direction") == "inbound"
        and payload.get("author_kind") == "customer"
        # Auto-replies, bounces and imports: nobody is waiting for an answer.
        and not payload.get("automated")
        # A call's record (phone, browser audio or video): a person took it, the bot keeps out.
        and payload.get("kind", "message") == "message"
    )


# No job at all until an admin turns the bot on for some inbox.
on_event("message.created", ANSWER_JOB, wants=_customer_wrote, enabled=repository.any_enabled)


@handler(ANSWER_JOB)
async def answer(session: AsyncSession, event: dict[str, Any]) -> None:
    payload = event.get("payload") or {}
    conversation_id, message_id = payload.get("conversation_id"), payload.get("message_id")
    if conversation_id and message_id:
        await service.on_customer_message(
            session, conversation_id=int(conversation_id), message_id=int(message_id)
        )
