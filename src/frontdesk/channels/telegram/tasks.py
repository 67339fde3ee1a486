"""Job handlers of the Telegram channel: a button press is answered (`answerCallbackQuery`)
once its message is stored, so the customer's Telegram stops showing a spinner on the button."""

from __future__ import annotations

import logging
from typing import Any

from frontdesk.channels.telegram.client import BotApi, TelegramError
from frontdesk.conversations import repository as conversations_repository
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.secrets import opened
from frontdesk.kit.jobs import JobContext, RetryLater, handler, on_event

ANSWER_JOB = "telegram.answer_callback"
log = logging.getLogger(__name__)


def _customer_wrote_on_telegram(event: dict[str, Any]) -> bool:
    payload = event.get("payload") or {}
    return (
        payload.get("channel") == "telegram"
        and payload.get("direction") == "inbound"
        and payload.get("author_kind") == "customer"
    )


on_event("message.created", ANSWER_JOB, wants=_customer_wrote_on_telegram)


@handler(ANSWER_JOB, transactional=False)
async def answer_callback(ctx: JobContext, event: dict[str, Any]) -> None:
    """Answer the button press this message came from (other messages need no answer)."""
    async with ctx.db.session() as session:
        message = await conversations_repository.get_message(
            session, int(event["payload"]["message_id"])
        )
        telegram = (message.meta.get("telegram") or {}) if message is not None else {}
        query = telegram.get("callback_query") if isinstance(telegram, dict) else None
        inbox = (
            await inboxes_repository.get_inbox(session, message.inbox_id)
            if message is not None and query
            else None
        )
        await session.commit()
    if inbox is None or not query:
        return
    try:
        await BotApi(opened(inbox, ctx.settings), ctx.settings).call(
            "answerCallbackQuery", {"callback_query_id": str(query)}
        )
    except TelegramError as exc:
        if exc.code == 429:
            raise RetryLater(exc.retry_after or 1.0, f"Telegram: {exc}") from exc
        if exc.permanent:
            # Too old (Telegram keeps a press open for a short while) or the bot is gone:
            # the press itself is stored; only the spinner stays until Telegram drops it.
            log.info("telegram callback %s not answered: %s", query, exc.description)
            return
        raise
