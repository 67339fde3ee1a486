"""The events the SLA domain records (pushed over the events websocket to whoever may see
the conversation): sla.updated (a clock started, paused, resumed or stopped), sla.warning
(80 % of a target used), sla.breached (the target passed)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation
from frontdesk.kit.events import record
from frontdesk.sla.models import SlaClock


def record_clock(
    session: AsyncSession, conversation: Conversation, clock: SlaClock, type: str
) -> None:
    record(
        session,
        type,
        {
            "conversation_id": conversation.id,
            "kind": clock.kind,
            "state": clock.state,
            "policy_id": clock.policy_id,
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
            "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
        },
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )
