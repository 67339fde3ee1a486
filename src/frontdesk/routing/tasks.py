"""Routing's job handlers: tasks from the event log, offer timeouts, escalations, the sweep."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.bot import service as bot
from frontdesk.conversations import repository as conversations_repository
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit.jobs import every, handler, on_event
from frontdesk.routing import dispatch, placing, repository, service

INTAKE_JOB = "routing.enqueue"
HAND_ASSIGNED_JOB = "routing.assigned_by_hand"
PRESENCE_RULE_JOB = "routing.presence_rule"
SWEEP_JOB = "routing.sweep"
CLOSED = ("resolved", "closed")


def _customer_wrote(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return payload.get("direction") == "inbound" and payload.get("author_kind") == "customer"


def _status_moved(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return payload.get("to") == "open" or payload.get("to") in CLOSED


def _assignee_changed(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return "assignee_id" in (payload.get("values") or {})


# Routing is off until an admin makes a routing policy: no task, no job before that.
on_event("message.created", INTAKE_JOB, wants=_customer_wrote, enabled=repository.any_policy)
on_event(
    "conversation.status_changed", INTAKE_JOB, wants=_status_moved, enabled=repository.any_policy
)
on_event(
    "conversation.updated",
    HAND_ASSIGNED_JOB,
    wants=_assignee_changed,
    enabled=repository.any_policy,
)


# The presence rule reads when agents come on and leave calls (voice and CTI alike).
on_event("call.answered", PRESENCE_RULE_JOB, enabled=repository.presence_rule_on)
on_event("call.ended", PRESENCE_RULE_JOB, enabled=repository.presence_rule_on)


@handler(INTAKE_JOB)
async def intake(session: AsyncSession, event: dict[str, Any]) -> None:
    """A conversation needs a human (an unassigned inbound message, a reopen), or no longer."""
    conversation_id = event.get("conversation_id")
    conversation = (
        await conversations_repository.get_conversation(session, int(conversation_id))
        if conversation_id
        else None
    )
    if conversation is None:
        return
    payload = event.get("payload") or {}
    if event["type"] == "conversation.status_changed" and payload.get("to") in CLOSED:
        task = await repository.open_task_of_conversation(session, conversation.id)
        if task is not None:
            await dispatch.complete(session, task, None)
        return
    if conversation.status != "open" or conversation.assignee_id is not None:
        return
    if await bot.holds(session, conversation):
        return  # the bot answers first; its hand-off makes the task (bot.service.hand_off)
    channels = await inboxes_repository.channels_of(session, {conversation.inbox_id})
    reopened = event["type"] == "conversation.status_changed" and payload.get("from") in CLOSED
    made = await placing.task_for_conversation(
        session,
        conversation,
        channel=channels.get(conversation.inbox_id, "chat"),
        reopened=reopened,
    )
    if made is not None:
        await dispatch.route(session)


@handler(HAND_ASSIGNED_JOB)
async def assigned_by_hand(session: AsyncSession, event: dict[str, Any]) -> None:
    """A person assigned the conversation: a task still waiting (or offered) is accepted for
    the agent picked, so nobody else is offered a conversation that someone already works
    and the work counts in handled-task metrics like routed work; one already held by another
    agent moves to the agent picked. A person (or a call the agent did not pick up)
    unassigned it: the task its agent held waits again."""
    conversation_id = event.get("conversation_id")
    conversation = (
        await conversations_repository.get_conversation(session, int(conversation_id))
        if conversation_id
        else None
    )
    if conversation is None:
        return
    task = await repository.open_task_of_conversation(session, conversation.id)
    payload = event.get("payload") or {}
    if conversation.assignee_id is None:
        before = ((payload.get("values") or {}).get("assignee_id") or [None])[0]
        held = task is not None and task.status in ("assigned", "wrapping")
        if task is not None and held and task.assignee_id == before:
            missed = payload.get("rule") == "not_picked_up"
            await dispatch.give_back(session, task, rejected=missed, reason="unassigned")
            await dispatch.route(session)
        return
    if task is None:
        return
    if task.status in ("assigned", "wrapping") and task.assignee_id != conversation.assignee_id:
        # Reassigned by a person from the agent who held it: the holder's slot is freed and
        # the task goes to the agent picked, as if it had been waiting.
        await dispatch.give_back(session, task, rejected=False, reason="reassigned")
    if task.status not in ("waiting", "offered"):
        return  # routing's own assignment (accepted or auto-accepted)
    by = payload.get("by")
    await dispatch.assign_by_hand(
        session, task, conversation.assignee_id, by=by if isinstance(by, int) else None
    )
    await dispatch.route(session)


@handler(PRESENCE_RULE_JOB)
async def presence_rule(session: AsyncSession, event: dict[str, Any]) -> None:
    """An agent came on a call (busy) or left it (after-call work)."""
    payload = event.get("payload") or {}
    agent_id, channel = payload.get("agent_id"), payload.get("channel")
    if not isinstance(agent_id, int):
        return
    if event["type"] == "call.ended":
        await service.call_ended(session, agent_id, channel=channel, reason="call_ended")
    elif await _still_talking(session, payload):
        await service.call_started(session, agent_id, channel=channel, reason="call_answered")


async def _still_talking(session: AsyncSession, payload: dict[str, Any]) -> bool:
    """Whether the agent is still on the call: jobs may run out of order, and an answered
    notice read after the call ended must not make the agent busy for good."""
    message_id = payload.get("message_id")
    message = (
        await conversations_repository.get_message(session, int(message_id))
        if isinstance(message_id, int)
        else None
    )
    call = (message.meta.get("call") or {}) if message is not None else {}
    return call.get("status") == "answered" and call.get("agent_id") == payload.get("agent_id")


@handler(service.ACW_END_JOB)
async def after_call_work_ends(session: AsyncSession, payload: dict[str, Any]) -> None:
    """The channel's after-call work limit passed: the agent is back (and may get work)."""
    back = await service.end_after_call_work(
        session, int(payload["agent_id"]), since=str(payload["since"]), reason="acw_timeout"
    )
    if back:
        await dispatch.route(session)


@handler(placing.OFFER_TIMEOUT_JOB)
async def offer_timeout(session: AsyncSession, payload: dict[str, Any]) -> None:
    await dispatch.expire_offer(session, int(payload["task_id"]), str(payload["offered_at"]))
    await dispatch.route(session)


@handler(placing.ESCALATE_JOB)
async def escalate(session: AsyncSession, payload: dict[str, Any]) -> None:
    await dispatch.escalate(session, int(payload["task_id"]), int(payload["target_index"]))
    await dispatch.route(session)


@handler(SWEEP_JOB)
async def sweep(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Offer what waits to agents who became free without a decision being made for them."""
    await dispatch.route(session)


every(SWEEP_JOB, "* * * * *", SWEEP_JOB)
