"""The demo's routing set-up (issue 11): agents as workers with skills, languages, tiers and
capacity, queues, policies that take every conversation needing a human (sticky agent
first, then the team, then L2/L3) and the presence rule (busy on a call, after-call work),
so a newcomer sees routing at work: the supervisor's queue board with chats waiting, My
work, offers once an agent says they are available, and the website chat's place in the
queue after the bot hands a visitor over.

Seeded in its own transaction after the history: a policy makes the event log's intake jobs
run for every customer message, and the weeks of history must not all become tasks. Instead
the latest open, unassigned conversations that the bot does not hold become the backlog."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.bot import service as bot
from frontdesk.conversations import repository as conversations_repository
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.routing import dispatch, placing
from frontdesk.routing import repository as routing_repository
from frontdesk.routing import service as presence
from frontdesk.routing import setup as routing_setup
from frontdesk.routing.schemas import (
    PolicyCreate,
    PresenceRuleUpdate,
    QueueCreate,
    WorkerUpdate,
)

# Slots per channel (the inbox's channel; "backoffice" for work items, "*" the total); one chat
# slot of the six is kept from work items.
CAPACITY = {"webchat": 3, "api": 3, "email": 5, "sms": 2, "whatsapp": 2, "telegram": 2,
            "messenger": 2, "instagram": 2, "sms_gateway": 2, "voice": 1, "cti": 1, "backoffice": 2,
            "*": 6}  # fmt: skip
# e-mail, skills (level 1-10), languages, tier
WORKERS = (
    ("alice@frontdesk.test", {"orders": 4, "shipping": 3}, ["en"], "L1"),
    ("noor@frontdesk.test", {"orders": 3, "billing": 2}, ["ar", "en"], "L1"),
    ("bob@frontdesk.test", {"billing": 4, "refunds": 3}, ["ar", "en"], "L2"),
    ("kian@frontdesk.test", {"orders": 3, "shipping": 2}, ["fa", "en"], "L2"),
    ("sara@frontdesk.test", {"orders": 4, "billing": 3, "refunds": 3}, ["fa", "en"], "L3"),
)
# Support and Billing exist already (demo.workload.seed_queues, with work waiting).
QUEUES = (
    ("Arabic desk", "languages HAS 'ar'"),
    ("Persian desk", "languages HAS 'fa'"),
    ("Escalations", "tier IN ['L2', 'L3']"),
)
# The sticky agent (whoever last helped the customer) first; a customer nobody has helped yet
# goes to the whole team at once.
STICKY = "id == task.last_agent_id OR task.last_agent_id == NULL"
# (name, position, task expression, [(queue, agent expression, timeout s, boost)])
POLICIES: tuple[tuple[str, int, str, list[tuple[str, str | None, int | None, int]]], ...] = (
    ("VIP customers", 10, "vip == TRUE OR value >= 1000", [
        ("Escalations", None, 120, 1),
        ("Support", None, None, 1),
    ]),
    ("Arabic", 20, "language == 'ar'", [
        ("Arabic desk", STICKY, 60, 0),
        ("Arabic desk", None, 300, 0),
        ("Escalations", None, None, 1),
    ]),
    ("Persian", 30, "language == 'fa'", [
        ("Persian desk", STICKY, 60, 0),
        ("Persian desk", None, 300, 0),
        ("Escalations", None, None, 1),
    ]),
    ("Everything else", 100, "TRUE", [
        ("Support", STICKY, 60, 0),
        ("Support", None, 300, 0),
        ("Escalations", None, None, 1),
    ]),
)  # fmt: skip
BACKLOG = 8  # open, unassigned conversations that start waiting
# The presence rule on: an agent on a call is busy, then 30 s of after-call work (voice, CTI).
PRESENCE_RULE = {"enabled": True, "acw_seconds": {"voice": 30, "cti": 30}}


async def seed_routing(session: AsyncSession) -> int:
    """Workers, queues, policies and the backlog's tasks; how many tasks were made. Does
    nothing when a routing policy exists already (an admin's set-up is left alone)."""
    if await routing_repository.any_policy(session):
        return 0
    await _workers(session)
    queues = {queue.name: queue.id for queue in await routing_repository.list_queues(session)}
    for name, expression in QUEUES:
        if name not in queues:
            made = await routing_setup.create_queue(
                session, QueueCreate(name=name, agent_expression=expression)
            )
            queues[name] = made.id
    for name, position, expression, targets in POLICIES:
        await routing_setup.create_policy(
            session, _policy(name, position, expression, targets, queues)
        )
    await presence.update_rule(session, PresenceRuleUpdate.model_validate(PRESENCE_RULE), by=None)
    return await _backlog(session)


async def _workers(session: AsyncSession) -> None:
    for email, skills, languages, tier in WORKERS:
        agent = await auth_repository.get_agent_by_email(session, email)
        if agent is None or not agent.active:
            continue
        data = WorkerUpdate.model_validate(
            {"skills": skills, "languages": languages, "tier": tier, "capacity": CAPACITY,
             "reserved": {"webchat": 1}}
        )  # fmt: skip
        await routing_setup.update_worker(session, agent, data)


def _policy(
    name: str,
    position: int,
    expression: str,
    targets: list[tuple[str, str | None, int | None, int]],
    queues: dict[str, int],
) -> PolicyCreate:
    rows: list[dict[str, Any]] = [
        {"queue_id": queues[queue], "agent_expression": agents, "timeout_seconds": timeout,
         "priority_boost": boost}
        for queue, agents, timeout, boost in targets
    ]  # fmt: skip
    return PolicyCreate.model_validate(
        {"name": name, "position": position, "task_expression": expression, "targets": rows}
    )


async def _backlog(session: AsyncSession) -> int:
    open_ = await conversations_repository.list_conversations(
        session, inbox_ids=None, status="open", inbox_id=None, assignee_id=None,
        customer_id=None, before=None, limit=200,
    )  # fmt: skip
    waiting = [c for c in open_ if c.assignee_id is None]
    channels = await inboxes_repository.channels_of(session, {c.inbox_id for c in waiting})
    made = 0
    for conversation in waiting:
        if made == BACKLOG:
            break
        if await bot.holds(session, conversation):
            continue  # the bot answers first; its hand-off makes the task
        task = await placing.task_for_conversation(
            session, conversation, channel=channels.get(conversation.inbox_id, "chat"),
            reopened=False,
        )  # fmt: skip
        made += task is not None
    await dispatch.route(session)  # nobody is at their desk yet: everything waits
    return made
