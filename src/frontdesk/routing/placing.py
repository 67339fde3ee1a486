"""Making tasks and putting them in a queue: the policy that matches, its current target,
the rank, and the jobs that end an offer or move a task to the next target on time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.conversations import service as conversations_service
from frontdesk.conversations.models import Conversation
from frontdesk.db import utcnow
from frontdesk.kit import jobs
from frontdesk.kit.errors import Invalid, NotFound
from frontdesk.routing import engine, repository
from frontdesk.routing.events import record_task
from frontdesk.routing.expressions import parse
from frontdesk.routing.models import BACKOFFICE, RoutingTask
from frontdesk.routing.schemas import TaskCreate

ESCALATE_JOB = "routing.escalate"
OFFER_TIMEOUT_JOB = "routing.offer_timeout"
PRIORITIES = {"low": -1, "normal": 0, "high": 1, "urgent": 2}


def task_env(task: RoutingTask) -> dict[str, Any]:
    """What a policy's task expression reads."""
    return {
        **(task.attributes or {}),
        "channel": task.channel,
        "kind": task.kind,
        "type": task.type,
        "priority": task.base_priority,
    }


async def place(session: AsyncSession, task: RoutingTask, *, queue_id: int | None = None) -> None:
    """Put a new task in its first target's queue (or the queue given), ranked."""
    task.rank_at = engine.rank_at(task.created_at, task.base_priority, task.due_at)
    task.target_started_at = utcnow()
    if queue_id is not None:
        if await repository.get_queue(session, queue_id) is None:
            raise Invalid(f"queue {queue_id} does not exist", code="unknown_queue")
        task.queue_id = queue_id
        await session.flush()
        return
    env = task_env(task)
    for policy in await repository.list_policies(session):
        if policy.targets and parse(policy.task_expression).matches(env):
            target = policy.targets[0]
            task.policy_id, task.target_index = policy.id, 0
            task.queue_id = int(target["queue_id"])
            task.agent_expression = target.get("agent_expression")
            task.base_priority += int(target.get("priority_boost") or 0)
            task.rank_at = engine.rank_at(task.created_at, task.base_priority, task.due_at)
            await session.flush()
            await enqueue_escalation(session, task, target)
            return
    await session.flush()  # no policy matches: listed, not routed, until someone moves it


async def enqueue_escalation(
    session: AsyncSession, task: RoutingTask, target: dict[str, Any]
) -> None:
    timeout = target.get("timeout_seconds")
    if timeout:
        await jobs.enqueue(
            session,
            ESCALATE_JOB,
            {"task_id": task.id, "target_index": task.target_index},
            key=f"{ESCALATE_JOB}:{task.id}:{task.target_index}",
            run_at=task.target_started_at + timedelta(seconds=int(timeout)),
        )


async def schedule_offer_timeout(session: AsyncSession, task: RoutingTask) -> None:
    assert task.offered_at is not None and task.offer_expires_at is not None
    offered_at = task.offered_at.isoformat()
    await jobs.enqueue(
        session,
        OFFER_TIMEOUT_JOB,
        {"task_id": task.id, "offered_at": offered_at},
        key=f"{OFFER_TIMEOUT_JOB}:{task.id}:{offered_at}",
        run_at=task.offer_expires_at,
    )


async def create_work_item(session: AsyncSession, data: TaskCreate, *, by: Agent) -> RoutingTask:
    """A back-office work item, made by the API, the UI or rules."""
    task = RoutingTask(
        kind="work_item",
        type=data.type,
        description=data.description,
        channel=BACKOFFICE,
        customer_id=data.customer_id,
        conversation_id=data.conversation_id,
        attributes=dict(data.attributes),
        base_priority=data.base_priority,
        due_at=data.due_at,
        created_at=utcnow(),
        rejected_by=[],
    )
    await _link(session, task, by)
    session.add(task)
    await session.flush()
    await place(session, task, queue_id=data.queue_id)
    record_task(session, task, "task.created", by=by.id)
    return task


async def _link(session: AsyncSession, task: RoutingTask, by: Agent) -> None:
    """Link the conversation and customer; one the author may not see is as unknown as one
    that does not exist (422 either way: nothing about other inboxes leaks)."""
    if task.conversation_id is not None:
        try:
            conversation = await conversations_service.get_or_raise(
                session, task.conversation_id, agent=by
            )
        except NotFound as exc:
            raise Invalid(
                f"conversation {task.conversation_id} does not exist", code="unknown_conversation"
            ) from exc
        task.customer_id = task.customer_id or conversation.customer_id
        task.inbox_id = conversation.inbox_id
    if task.customer_id is not None and not await repository.customer_exists(
        session, task.customer_id
    ):
        raise Invalid(f"customer {task.customer_id} does not exist", code="unknown_customer")


async def task_for_conversation(
    session: AsyncSession, conversation: Conversation, *, channel: str, reopened: bool
) -> RoutingTask | None:
    """The conversation's open task, made now if it has none (it needs a human)."""
    if await repository.open_task_of_conversation(session, conversation.id) is not None:
        return None
    now = utcnow()
    attributes = await repository.customer_attributes(session, conversation.customer_id)
    attributes.update(
        {"language": conversation.language, "inbox_id": conversation.inbox_id},
        last_agent_id=await repository.last_agent_of(session, conversation.customer_id),
    )
    task = RoutingTask(
        kind="conversation",
        type="conversation",
        channel=channel,
        conversation_id=conversation.id,
        open_conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        inbox_id=conversation.inbox_id,
        attributes=attributes,
        base_priority=PRIORITIES.get(conversation.priority, 0),
        created_at=now,
        reopened_at=now if reopened else None,
        rejected_by=[],
    )
    session.add(task)
    await session.flush()
    await place(session, task)
    record_task(session, task, "task.created", reopened=reopened)
    return task


async def set_due(session: AsyncSession, task: RoutingTask, due_at: datetime | None) -> bool:
    """The SLA's due time (the earliest running clock of the task's conversation) feeds the
    task's rank; answers whether it changed."""
    if task.due_at == due_at:
        return False
    task.due_at = due_at
    task.rank_at = engine.rank_at(task.created_at, task.base_priority, task.due_at)
    await session.flush()
    return True


async def escalate_breach(
    session: AsyncSession, task: RoutingTask, *, boost: int, queue_id: int | None
) -> None:
    """An SLA breach: more base priority, and a move to the escalation queue when one is
    named and the task still waits (an offered or held task stays where it is)."""
    task.base_priority += boost
    moves = queue_id is not None and task.status == "waiting" and task.queue_id != queue_id
    if moves and await repository.get_queue(session, queue_id or 0) is not None:
        task.queue_id, task.agent_expression = queue_id, None
    task.rank_at = engine.rank_at(task.created_at, task.base_priority, task.due_at)
    await session.flush()
    record_task(session, task, "task.escalated", reason="sla_breach", boost=boost)
