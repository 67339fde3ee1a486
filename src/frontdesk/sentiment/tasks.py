"""The sentiment job: each customer message is analysed after its commit."""

from __future__ import annotations

import logging
from typing import Any

from frontdesk.kit import uow
from frontdesk.kit.jobs import Claimed, JobContext, batch_handler, on_event
from frontdesk.sentiment import service

log = logging.getLogger(__name__)

SENTIMENT_JOB = "sentiment.analyse"
# Up to this many customer messages are analysed in one claim, one transaction and one
# completion. A job of its own each cost ~10 ms of CPU per message in SQLite's embedded runner
# (bench/channels_cpu.py --drain: the claim, the transaction and the completion, not the
# model), beside the webhooks in the same process. Not more: the transaction holds the
# batch's conversations (on SQLite the one write lock) until it commits, and on PostgreSQL a
# webhooks' group commit that touches one of them waits, its whole group with it (64 a batch:
# every acknowledgement stalled 2-3 s at once while a busy worker went through one). The same
# on both databases.
SENTIMENT_BATCH = 16


def _customer_wrote(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return (
        payload.get("direction") == "inbound"
        and payload.get("author_kind") == "customer"
        and not payload.get("automated")
        and bool(str(payload.get("text") or "").strip())
    )


on_event("message.created", SENTIMENT_JOB, wants=_customer_wrote)


@batch_handler(SENTIMENT_JOB, size=SENTIMENT_BATCH, background=True)
async def analyse(ctx: JobContext, jobs: list[Claimed]) -> dict[int, Exception]:
    """Label the messages, update their conversations' trends, run the frustration hooks:
    the batch in one transaction; if that fails, each message in its own, so a message that
    cannot be analysed fails its own job alone."""
    message_ids = {job.id: int(job.payload["payload"]["message_id"]) for job in jobs}
    try:
        # The texts in a read-only transaction and the model outside any: the write
        # transaction then only stores the outcome. It locks the batch's conversations (their
        # trend) until it commits, and a webhook's group commit that touches one of them
        # waits that long, with every acknowledgement of its group (PostgreSQL: 2-3 s stalls
        # of all 32 webhooks at once in bench/channels.py while the worker ran the model for
        # a batch of 64 inside the transaction); on SQLite it holds the one write lock.
        async with ctx.db.session() as session, uow.reading(session):
            texts = await service.texts_to_analyse(session, list(message_ids.values()))
        precomputed = service.precompute(texts)
        async with ctx.db.session() as session:
            await service.analyse_messages(
                session, list(message_ids.values()), precomputed=precomputed
            )
            await uow.commit(session)
        return {}
    except Exception:
        if len(jobs) == 1:
            raise
        log.warning("sentiment: a batch of %d failed; one message at a time", len(jobs))
    failed: dict[int, Exception] = {}
    for job_id, message_id in message_ids.items():
        try:
            async with ctx.db.session() as session:
                await service.analyse_message(session, message_id)
                await uow.commit(session)
        except Exception as exc:
            failed[job_id] = exc
    return failed
