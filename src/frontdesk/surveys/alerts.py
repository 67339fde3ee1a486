"""At-risk follow-ups: a low survey score, or a run of negative sentiment (the hook other
code calls: `negative_run`), puts the conversation in front of a supervisor with the
context. With routing configured (a routing policy exists) it becomes a work item of type
`at_risk` in the routing queues; always, the conversation is tagged `at-risk`, raised to
high priority and assigned to the inbox's alert agent (or the first supervisor/admin), with
an internal note saying why."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations.models import Conversation, Note
from frontdesk.db import utcnow
from frontdesk.kit.events import record
from frontdesk.routing import placing
from frontdesk.routing import repository as routing_repository
from frontdesk.routing.schemas import TaskCreate
from frontdesk.surveys import repository
from frontdesk.surveys.models import Survey

AT_RISK_TAG = "at-risk"
WORK_ITEM_TYPE = "at_risk"


async def follow_up(session: AsyncSession, survey: Survey, *, reason: str) -> None:
    """A low score: the survey's conversation gets a supervisor's follow-up."""
    conversation = await conversations_repository.get_conversation(session, survey.conversation_id)
    if conversation is None:
        return
    context = {
        "survey_id": survey.id, "kind": survey.kind, "score": survey.score,
        "comment": survey.comment, "channel": survey.channel,
    }  # fmt: skip
    text = f"At risk: {survey.kind.upper()} score {survey.score}" + (
        f" — “{survey.comment}”" if survey.comment else ""
    )
    await flag(session, conversation, reason=reason, text=text, context=context)


async def negative_run(
    session: AsyncSession,
    conversation_id: int,
    *,
    labels: list[str],
    run: int = 3,
    context: dict[str, Any] | None = None,
) -> bool:
    """The hook for sentiment: given the labels of a conversation's newest inbound messages
    (oldest first), flag it when the last `run` of them are all "negative". Idempotent: a
    conversation already flagged for this is not flagged again. True when it flagged."""
    flagged = await negative_runs(
        session, {conversation_id: labels}, run=run, contexts={conversation_id: context or {}}
    )
    return bool(flagged)


async def negative_runs(
    session: AsyncSession,
    labels: dict[int, list[str]],
    *,
    run: int = 3,
    contexts: dict[int, dict[str, Any]],
) -> list[int]:
    """`negative_run` for several conversations (conversation id -> its labels, oldest
    first), in the order given: the conversations and their tags are read once for all.
    Returns the ids flagged."""
    due = [
        conversation_id
        for conversation_id, found in labels.items()
        if len(found) >= run and all(label == "negative" for label in found[-run:])
    ]
    if not due:
        return []
    conversations = await conversations_repository.get_conversations(session, set(due))
    tags = await conversations_repository.tag_names_by_conversation(session, list(conversations))
    flagged = []
    for conversation_id in due:
        conversation = conversations.get(conversation_id)
        if conversation is None or AT_RISK_TAG in tags.get(conversation_id, ()):
            continue
        await flag(
            session, conversation, reason="negative_sentiment",
            text=f"At risk: {run} negative messages in a row",
            context=dict(contexts.get(conversation_id) or {}),
        )  # fmt: skip
        flagged.append(conversation_id)
    return flagged


async def flag(
    session: AsyncSession,
    conversation: Conversation,
    *,
    reason: str,
    text: str,
    context: dict[str, Any],
) -> Agent | None:
    """Tag, raise, assign and note the conversation; a routing work item when routing is on."""
    config = await repository.get_config(session, conversation.inbox_id)
    supervisor = None
    if config is not None and config.alert_agent_id is not None:
        supervisor = await auth_repository.get_agent(session, config.alert_agent_id)
    if supervisor is None or not supervisor.active:
        supervisor = await repository.first_supervisor(session)
    await conversations_repository.add_tag(session, conversation.id, AT_RISK_TAG)
    conversation.priority = "high"
    if supervisor is not None:
        conversation.assignee_id = supervisor.id
        session.add(Note(conversation_id=conversation.id, agent_id=None, text=text))
        if await routing_repository.any_policy(session):
            await placing.create_work_item(
                session,
                TaskCreate(type=WORK_ITEM_TYPE, description=text, conversation_id=conversation.id,
                           base_priority=5, attributes={"reason": reason}),
                by=supervisor,
            )  # fmt: skip
    conversation.updated_at = utcnow()
    await session.flush()
    record(
        session, "conversation.at_risk",
        {"conversation_id": conversation.id, "reason": reason, "context": context,
         "assignee_id": supervisor.id if supervisor else None},
        inbox_id=conversation.inbox_id, conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )  # fmt: skip
    return supervisor
