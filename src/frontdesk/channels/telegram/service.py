"""Taking Telegram updates in: files fetched first (outside any transaction), then new
messages stored exactly once and edits landed on their message (or kept until it comes).
The webhook stores one update; the poller a batch, together with its new offset."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.telegram import repository
from frontdesk.channels.telegram.adapter import MediaRef, read_update, telegram_channel
from frontdesk.channels.telegram.client import BotApi, TelegramError
from frontdesk.channels.telegram.schemas import Update
from frontdesk.config import Settings
from frontdesk.conversations import service as conversations
from frontdesk.conversations.delivery import Notice
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound, InboundAttachment
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.security import safe_filename

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)


class ProviderUnavailable(FrontdeskError):
    """Telegram could not give us a file now: answering 502 makes it deliver the update
    again later (nothing was stored)."""

    status = 502
    code = "provider_unavailable"


@dataclass
class Taken:
    update_id: int
    status: str  # stored | duplicate | edited | ignored


@dataclass
class _Prepared:
    update: Update
    inbound: Inbound | None


async def prepare(inbox: Inbox, update: Update, app: Settings) -> _Prepared:
    """The update's new message with its files downloaded (a permanent refusal of one file is
    noted on the message instead; anything else → ProviderUnavailable)."""
    inbound = telegram_channel.inbound_of(inbox, update)
    if inbound is not None:
        missing: list[str] = []
        api = BotApi(inbox.settings, app)
        for ref in telegram_channel.media_of(update):
            attachment = await _download(api, ref, app)
            if attachment is None:
                missing.append(safe_filename(ref.filename, ref.content_type))
            else:
                inbound.attachments.append(attachment)
        if missing:
            inbound.meta = {**inbound.meta, "missing_files": missing}
        if not inbound.text and not inbound.attachments:
            inbound.text = "[file not available]"
    return _Prepared(update, inbound)


async def _download(api: BotApi, ref: MediaRef, app: Settings) -> InboundAttachment | None:
    if ref.size is not None and ref.size > app.max_attachment_bytes:
        return None
    try:
        _, data = await api.download(ref.file_id, max_bytes=app.max_attachment_bytes)
    except TelegramError as exc:
        if exc.permanent:
            log.info("telegram file %s not taken: %s", ref.file_id, exc)
            return None
        raise ProviderUnavailable(f"Telegram file download failed: {exc}") from exc
    except Exception as exc:  # network: Telegram retries the webhook, the poller the batch
        raise ProviderUnavailable(f"Telegram file download failed: {exc}") from exc
    return InboundAttachment(safe_filename(ref.filename, ref.content_type), ref.content_type, data)


async def take_update(runtime: Runtime, inbox: Inbox, body: bytes) -> Taken:
    """One webhook delivery: stored (or answered as a duplicate) once committed."""
    update = read_update(body)
    edit = telegram_channel.edit_of(update)
    if edit is not None:
        notice = Notice(inbox.id, edit.provider_message_id, text=edit.text, at=edit.at, edit=True)
        await runtime.ingestor.apply([notice])
        return Taken(update.update_id, "edited")
    prepared = await prepare(inbox, update, runtime.settings)
    if prepared.inbound is None:
        return Taken(update.update_id, "ignored")
    received = await runtime.ingestor.take(prepared.inbound)
    return Taken(update.update_id, "duplicate" if received.duplicate else "stored")


async def _edit(session: AsyncSession, inbox: Inbox, update: Update) -> None:
    edit = telegram_channel.edit_of(update)
    assert edit is not None
    await conversations.apply_provider_edit(
        session, inbox.id, edit.provider_message_id, text=edit.text, at=edit.at
    )


async def store_batch(
    runtime: Runtime, session: AsyncSession, inbox: Inbox, batch: list[_Prepared], *, owner: str
) -> list[Taken]:
    """A getUpdates batch, in order, and the offset past it, in this one transaction (the
    caller commits): a crash before the commit leaves both where they were."""
    inbounds = [item.inbound for item in batch if item.inbound is not None]
    outcomes = await conversations.receive_many(session, inbounds, blobs=runtime.blobs)
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    received = iter(outcomes)
    taken: list[Taken] = []
    for item in batch:
        if item.inbound is not None:
            outcome = next(received)
            duplicate = getattr(outcome, "duplicate", False)
            taken.append(Taken(item.update.update_id, "duplicate" if duplicate else "stored"))
        elif telegram_channel.edit_of(item.update) is not None:
            await _edit(session, inbox, item.update)
            taken.append(Taken(item.update.update_id, "edited"))
        else:
            taken.append(Taken(item.update.update_id, "ignored"))
    if batch:
        imported = sum(1 for t in taken if t.status in ("stored", "edited"))
        advanced = await repository.advance(
            session,
            inbox.id,
            owner=owner,
            next_offset=max(item.update.update_id for item in batch) + 1,
            imported=imported,
        )
        if not advanced:
            raise LeaseLost(f"lease on telegram inbox {inbox.id} lost during a batch")
    return taken


class LeaseLost(Exception):
    """Another process polls this bot now; this one stops."""
