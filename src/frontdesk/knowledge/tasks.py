"""The embed job: a model embedder's vectors are computed after the commit that saved the
text (a forward pass costs about a millisecond a token), in batches, until none is missing.
The train job: the intent head is retrained after the example questions changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit import jobs
from frontdesk.knowledge import service


@jobs.handler(service.EMBED_JOB)
async def embed(session: AsyncSession, payload: dict[str, Any]) -> None:
    """One batch of missing vectors; another job when more remain."""
    if await service.embed_pending(session) >= service.EMBED_BATCH:
        await jobs.enqueue(session, service.EMBED_JOB, {})


@jobs.handler(service.TRAIN_JOB)
async def train_intents(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Retrain the intent head if the example questions changed since it was trained."""
    await service.train_intents(session)
