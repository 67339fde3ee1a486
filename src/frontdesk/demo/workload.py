"""The demo's handled work: each answered conversation of the history becomes a routing task
an agent accepted and completed, so the staffing page measures handle times per channel
instead of falling back to its default."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import repository
from frontdesk.db import utcnow
from frontdesk.routing import repository as routing_repository
from frontdesk.routing import setup as routing_setup
from frontdesk.routing.engine import rank_at
from frontdesk.routing.models import BACKOFFICE, RoutingTask
from frontdesk.routing.schemas import QueueCreate

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


# The supervisor's queue board has something to show: two queues, and back-office work
# waiting in them (one close to its due time). (type, description, queue, minutes waiting,
# minutes to due or None).
DEMO_QUEUES = (("Support", "teams HAS 'Support'"), ("Billing", "teams HAS 'Billing'"))
DEMO_WORK = (
    ("call back", "Call Omar back about his refund", "Billing", 25, 20),
    ("process refund", "Refund the duplicate charge on order 1042", "Billing", 12, None),
    ("check address", "Confirm Layla's new delivery address", "Support", 6, None),
)


async def seed_queues(session: AsyncSession) -> None:
    """Queues and waiting work items (idempotent: queues that exist are left alone). No
    routing policy is made, so conversations are not routed until an admin adds one."""
    existing = {queue.name: queue for queue in await routing_repository.list_queues(session)}
    made = {}
    for name, expression in DEMO_QUEUES:
        if name in existing:
            continue
        queue = await routing_setup.create_queue(
            session, QueueCreate(name=name, agent_expression=expression)
        )
        made[name] = queue.id
    now = utcnow()
    for kind, description, queue_name, waited, due in DEMO_WORK:
        if queue_name not in made:
            continue
        created = now - timedelta(minutes=waited)
        due_at = now + timedelta(minutes=due) if due is not None else None
        session.add(
            RoutingTask(
                kind="work_item", type=kind, description=description, channel=BACKOFFICE,
                queue_id=made[queue_name], status="waiting", attributes={}, rejected_by=[],
                created_at=created, target_started_at=created, due_at=due_at,
                rank_at=rank_at(created, 0, due_at),
            )
        )  # fmt: skip
    await session.flush()
