"""The events routing records about tasks (pushed over the events websocket)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit.events import record
from frontdesk.routing.models import RoutingTask

# task.created, task.offered (to payload.agent_id), task.assigned, task.accepted,
# task.rejected, task.offer_expired, task.wrapping, task.completed, task.transferred,
# task.escalated, task.returned (its conversation was unassigned: it waits again).
# The agent a payload names sees the event even without the inbox.


def record_task(session: AsyncSession, task: RoutingTask, type: str, **extra: object) -> None:
    record(
        session,
        type,
        {
            "task_id": task.id,
            "kind": task.kind,
            "type": task.type,
            "status": task.status,
            "channel": task.channel,
            "queue_id": task.queue_id,
            "conversation_id": task.conversation_id,
            "expires_at": task.offer_expires_at.isoformat() if task.offer_expires_at else None,
            **extra,
        },
        inbox_id=task.inbox_id,
        conversation_id=task.conversation_id,
        customer_id=task.customer_id,
    )
