"""The sentiment job: each customer message is analysed after its commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit.jobs import handler, on_event
from frontdesk.sentiment import service

SENTIMENT_JOB = "sentiment.analyse"


def _customer_wrote(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return (
        payload.get("direction") == "inbound"
        and payload.get("author_kind") == "customer"
        and not payload.get("automated")
        and bool(str(payload.get("text") or "").strip())
    )


on_event("message.created", SENTIMENT_JOB, wants=_customer_wrote)


@handler(SENTIMENT_JOB)
async def analyse(session: AsyncSession, event: dict[str, Any]) -> None:
    """Label the message, update its conversation's trend, run the frustration hooks."""
    await service.analyse_message(session, int(event["payload"]["message_id"]))
