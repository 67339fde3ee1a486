"""Surveys' job handlers: the resolve trigger, the delayed ask, and inbound messages that
may answer a pending survey (a digit on SMS, a button on WhatsApp or Telegram)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import repository as conversations_repository
from frontdesk.kit import uow
from frontdesk.kit.jobs import Claimed, JobContext, batch_handler, handler, on_event
from frontdesk.sentiment import repository as sentiment_repository
from frontdesk.surveys import alerts, journey, repository, service  # noqa: F401  (journey: markers)

TRIGGER_JOB = "surveys.trigger"
ANSWER_JOB = "surveys.answer_message"
AT_RISK_JOB = "surveys.negative_run"
# This many negative customer messages in a row make a conversation at risk.
NEGATIVE_RUN = 3
# Negative analyses looked at in one claim, one transaction and one completion (one job per
# negative customer message: a claim, a transaction and a completion each cost more than the
# look itself, in SQLite's embedded runner beside the webhooks). No more: the transaction
# holds its conversations until it commits (sentiment/tasks.py SENTIMENT_BATCH).
AT_RISK_BATCH = 16  # on both databases

log = logging.getLogger(__name__)
ANSWERING_CHANNELS = ("sms", "sms_gateway", "whatsapp", "telegram")
# Longer than any score, list-row title (24) or callback data ("survey:<id>:<n>").
LONGEST_ANSWER = 40


def _resolved(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return payload.get("to") in service.CLOSED and payload.get("from") not in service.CLOSED


def _may_answer(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return (
        payload.get("direction") == "inbound"
        and payload.get("author_kind") == "customer"
        and payload.get("channel") in ANSWERING_CHANNELS
        and len(str(payload.get("text") or "").strip()) <= LONGEST_ANSWER
    )


# Surveys are off until an inbox has them enabled; answers are looked for only while some
# survey waits for one.
on_event(
    "conversation.status_changed", TRIGGER_JOB, wants=_resolved, enabled=repository.any_enabled
)
on_event("message.created", ANSWER_JOB, wants=_may_answer, enabled=repository.any_pending)
# A run of negative sentiment makes a follow-up, as a low score does (alerts.py).
on_event(
    "conversation.sentiment_changed",
    AT_RISK_JOB,
    wants=lambda event: (event.get("payload") or {}).get("label") == "negative",
)


@handler(TRIGGER_JOB, transactional=False)
async def trigger(ctx: JobContext, event: dict[str, Any]) -> None:
    async with ctx.db.session() as session:
        await service.resolved(session, int(event["conversation_id"]), ctx.settings)
        await uow.commit(session)


@handler(service.SEND_JOB, transactional=False)
async def send_delayed(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.db.session() as session:
        conversation = await conversations_repository.get_conversation(
            session, int(payload["conversation_id"])
        )
        config = (
            await repository.get_config(session, conversation.inbox_id) if conversation else None
        )
        if conversation is not None and config is not None:
            await service.ask(session, conversation, config, ctx.settings)
        await uow.commit(session)


@handler(ANSWER_JOB)
async def answer_message(session: Any, event: dict[str, Any]) -> None:
    await service.answer_from_message(session, int(event["payload"]["message_id"]))


@batch_handler(AT_RISK_JOB, size=AT_RISK_BATCH, background=True)
async def negative_runs(ctx: JobContext, jobs: list[Claimed]) -> dict[int, Exception]:
    """Each negative analysis, in order, in one transaction; if that fails, each in its own,
    so a job that cannot run fails alone."""
    try:
        async with ctx.db.session() as session:
            await negative_runs_of(session, [job.payload for job in jobs])
            await uow.commit(session)
        return {}
    except Exception:
        if len(jobs) == 1:
            raise
        log.warning("surveys: a batch of %d at-risk looks failed; one at a time", len(jobs))
    failed: dict[int, Exception] = {}
    for job in jobs:
        try:
            async with ctx.db.session() as session:
                await negative_run(session, job.payload)
                await uow.commit(session)
        except Exception as exc:
            failed[job.id] = exc
    return failed


async def negative_runs_of(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    """`negative_run` for each event, in order, reading the labels, conversations and tags of
    all their conversations once. The labels do not change within the batch, so a
    conversation's first event decides (a later one found it flagged, or not due, as well)."""
    firsts: dict[int, dict[str, Any]] = {}
    for event in events:
        firsts.setdefault(int(event["payload"]["conversation_id"]), event)
    labels = await sentiment_repository.recent_labels(session, list(firsts), limit=NEGATIVE_RUN)
    await alerts.negative_runs(
        session,
        {conversation_id: labels[conversation_id] for conversation_id in firsts},
        run=NEGATIVE_RUN,
        contexts={
            conversation_id: {
                "trend": event["payload"].get("trend"),
                "labels": labels[conversation_id],
            }
            for conversation_id, event in firsts.items()
        },
    )


async def negative_run(session: AsyncSession, event: dict[str, Any]) -> None:
    """A run of negative sentiment makes the conversation at risk (alerts.negative_run)."""
    await negative_runs_of(session, [event])
