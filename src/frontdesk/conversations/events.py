"""The events the conversations domain records about messages."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation, Message
from frontdesk.kit.events import record


def record_message(
    session: AsyncSession, message: Message, conversation: Conversation, type: str, **extra: object
) -> None:
    record(
        session,
        type,
        {
            "message_id": message.id,
            "conversation_id": conversation.id,
            "customer_id": message.customer_id,
            "direction": message.direction,
            "author_kind": message.author_kind,
            "channel": message.channel,
            "text": message.text,
            "delivery_status": message.delivery_status,
            **({"delivery_error": message.delivery_error} if message.delivery_error else {}),
            **(
                {"provider_message_id": message.provider_message_id}
                if message.provider_message_id
                else {}
            ),
            **({"edited": True} if message.meta.get("edited") else {}),
            # A phone call: its kind and state (direction, status, duration, recording...).
            **(
                {"kind": message.kind, "call": message.meta.get("call") or {}}
                if message.kind == "call"
                else {}
            ),
            # Set when a machine sent it (auto-reply, bounce, bulk) or it came in as an import:
            # automations must not answer it.
            **({"automated": True} if message.meta.get("automated") else {}),
            **extra,
        },
        inbox_id=message.inbox_id,
        conversation_id=conversation.id,
        customer_id=message.customer_id,
    )
