"""The demo's handled work: each answered conversation of the history becomes a routing task
an agent accepted and completed, so the staffing page measures handle times per channel
instead of falling back to its default."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import repository
from frontdesk.db import utcnow
from frontdesk.routing.models import RoutingTask

# Minutes of work per contact by channel, (low, high): calls and chats are worked while the
# customer waits, an e-mail is read and answered in one sitting.
WORK_MINUTES = {"voice": (3, 9), "email": (4, 12), "webchat": (5, 15)}
DEFAULT_MINUTES = (4, 12)


async def seed_handled_tasks(session: AsyncSession, *, days: int = 60, seed: int = 13) -> int:
    """Completed tasks for the answered conversations of the last `days` days; returns how
    many. Idempotent: conversations that have a task are left alone."""
    rng = random.Random(seed)
    made = 0
    since = utcnow() - timedelta(days=days)
    for conversation, inbox, customer, channel, asked, answered in await repository.first_replies(
        session, since=since
    ):
        accepted = asked + min(answered - asked, timedelta(minutes=rng.uniform(0.5, 3)))
        low, high = WORK_MINUTES.get(channel, DEFAULT_MINUTES)
        completed = max(answered, accepted + timedelta(minutes=rng.uniform(low, high)))
        session.add(
            RoutingTask(
                kind="conversation", type="conversation", channel=channel,
                conversation_id=conversation, customer_id=customer, inbox_id=inbox,
                status="completed", attributes={}, rejected_by=[], created_at=asked,
                rank_at=asked, target_started_at=asked, offered_at=asked,
                accepted_at=accepted, completed_at=completed,
            )
        )  # fmt: skip
        made += 1
    await session.flush()
    return made
