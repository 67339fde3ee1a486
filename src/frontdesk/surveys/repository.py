"""All SQL of surveys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.conversations.models import Conversation, Message
from frontdesk.kit import jobs
from frontdesk.surveys.models import Survey, SurveyConfig


async def get_config(session: AsyncSession, inbox_id: int) -> SurveyConfig | None:
    return await session.get(SurveyConfig, inbox_id)


async def list_configs(session: AsyncSession) -> Sequence[SurveyConfig]:
    return (await session.scalars(select(SurveyConfig).order_by(SurveyConfig.inbox_id))).all()


async def any_enabled(session: AsyncSession) -> bool:
    """One indexed query per commit with a resolve event: surveys are off until configured."""
    found = await session.scalar(
        select(SurveyConfig.inbox_id).where(SurveyConfig.enabled.is_(True)).limit(1)
    )
    return found is not None


# Whether any survey waits for its answer (then short inbound messages are checked); asked
# with the commit's other `enabled` checks. Uses index: ix_surveys_status.
any_pending = jobs.AnyRow(lambda: select(Survey.id).where(Survey.status == "sent"))


async def get_survey(session: AsyncSession, survey_id: int) -> Survey | None:
    return await session.get(Survey, survey_id)


async def survey_of_conversation(session: AsyncSession, conversation_id: int) -> Survey | None:
    return await session.scalar(select(Survey).where(Survey.conversation_id == conversation_id))


async def asked_since(session: AsyncSession, customer_id: int, since: datetime) -> bool:
    """Whether the customer was sent a survey (on any inbox) at or after `since`."""
    # Uses index: ix_surveys_customer_sent.
    found = await session.scalar(
        select(Survey.id)
        .where(
            Survey.customer_id == customer_id, Survey.sent_at >= since, Survey.status != "failed"
        )
        .limit(1)
    )
    return found is not None


async def pending_for(
    session: AsyncSession, *, inbox_id: int, customer_id: int, now: datetime
) -> Survey | None:
    """The customer's newest unanswered, unexpired survey on the inbox."""
    return await session.scalar(
        select(Survey)
        .where(
            Survey.inbox_id == inbox_id,
            Survey.customer_id == customer_id,
            Survey.status == "sent",
            Survey.expires_at > now,
        )
        .order_by(Survey.id.desc())
        .limit(1)
    )


async def first_supervisor(session: AsyncSession) -> Agent | None:
    """The first active supervisor, else the first active admin."""
    return await session.scalar(
        select(Agent)
        .where(Agent.role.in_(("supervisor", "admin")), Agent.active.is_(True))
        .order_by((Agent.role == "admin").asc(), Agent.id)
        .limit(1)
    )


async def messages_in(session: AsyncSession, conversation_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id)
        )
        or 0
    )


async def list_surveys(
    session: AsyncSession,
    *,
    inbox_ids: set[int] | None,
    inbox_id: int | None,
    kind: str | None,
    status: str | None,
    low: bool | None,
    customer_id: int | None,
    conversation_id: int | None,
    since: datetime | None,
    until: datetime | None,
    before: int | None,
    limit: int,
) -> Sequence[Survey]:
    """Newest first; `inbox_ids=None`: every inbox (admins, supervisors)."""
    query = select(Survey)
    if inbox_ids is not None:
        query = query.where(Survey.inbox_id.in_(inbox_ids or {-1}))
    for column, value in (
        (Survey.inbox_id, inbox_id), (Survey.kind, kind), (Survey.status, status),
        (Survey.low, low), (Survey.customer_id, customer_id),
        (Survey.conversation_id, conversation_id),
    ):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(Survey.sent_at >= since)
    if until is not None:
        query = query.where(Survey.sent_at < until)
    if before is not None:
        query = query.where(Survey.id < before)
    return (await session.scalars(query.order_by(Survey.id.desc()).limit(limit))).all()


async def resolved_without_survey(session: AsyncSession, *, limit: int) -> Sequence[Conversation]:
    """Resolved or closed conversations that were never asked, oldest first (the demo)."""
    asked = select(Survey.conversation_id)
    return (
        await session.scalars(
            select(Conversation)
            .where(Conversation.status.in_(("resolved", "closed")), Conversation.id.not_in(asked))
            .order_by(Conversation.id)
            .limit(limit)
        )
    ).all()


async def answered_in(session: AsyncSession, conversation_ids: Sequence[int]) -> Sequence[Survey]:
    """The answered surveys of these conversations (the customer journey's markers)."""
    if not conversation_ids:
        return []
    found = await session.scalars(
        select(Survey).where(
            Survey.conversation_id.in_(conversation_ids),
            Survey.status == "answered",
            Survey.score.is_not(None),
        )
    )
    return found.all()
