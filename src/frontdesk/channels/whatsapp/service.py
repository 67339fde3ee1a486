"""Taking WhatsApp notifications in: files fetched first (outside any transaction), then each
message stored exactly once (by its wamid) and each status landed on its message (or kept
until the message has that id)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from frontdesk.channels.whatsapp.adapter import (
    Item,
    MediaRef,
    StatusNotice,
    read_notification,
    whatsapp_channel,
)
from frontdesk.channels.whatsapp.client import GraphApi, GraphError
from frontdesk.config import Settings
from frontdesk.conversations.delivery import Notice
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import InboundAttachment
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.security import safe_filename

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)


class ProviderUnavailable(FrontdeskError):
    """Meta could not give us a file now: answering 502 makes it deliver the notification
    again later (nothing of it was stored)."""

    status = 502
    code = "provider_unavailable"


@dataclass
class Taken:
    stored: int = 0
    duplicates: int = 0
    statuses: int = 0
    message_ids: list[int] = field(default_factory=list)
    # Messages of the delivery refused alone for good (wamid, why): reported, never retried.
    refused: list[tuple[str, FrontdeskError]] = field(default_factory=list)


async def prepare(inbox: Inbox, item: Item, app: Settings) -> None:
    """Download the item's files onto its Inbound (a file Meta refuses for good is noted on
    the message instead; anything else → ProviderUnavailable)."""
    missing: list[str] = []
    api = GraphApi(inbox.settings, app)
    for ref in item.media:
        attachment = await _download(api, ref, app)
        if attachment is None:
            missing.append(ref.filename)
        else:
            item.inbound.attachments.append(attachment)
    if missing:
        item.inbound.meta = {**item.inbound.meta, "missing_files": missing}
    if not item.inbound.text and not item.inbound.attachments:
        item.inbound.text = "[file not available]"


async def _download(api: GraphApi, ref: MediaRef, app: Settings) -> InboundAttachment | None:
    try:
        content_type, data = await api.download(ref.media_id, max_bytes=app.max_attachment_bytes)
    except GraphError as exc:
        if exc.permanent:
            log.info("whatsapp media %s not taken: %s", ref.media_id, exc)
            return None
        raise ProviderUnavailable(f"WhatsApp media download failed: {exc}") from exc
    except Exception as exc:  # network: Meta retries the webhook
        raise ProviderUnavailable(f"WhatsApp media download failed: {exc}") from exc
    kind = (content_type or ref.content_type).split(";")[0].strip() or ref.content_type
    return InboundAttachment(safe_filename(ref.filename, kind), kind, data)


async def take_notification(runtime: Runtime, inbox: Inbox, body: bytes) -> Taken:
    """One webhook delivery: its messages stored once each, then its statuses, all committed
    before the caller answers 200."""
    notification = read_notification(body)
    taken = Taken()
    items = whatsapp_channel.items_of(inbox, notification, taken.refused)
    notices = whatsapp_channel.statuses_of(notification)
    for item in items:
        await prepare(inbox, item, runtime.settings)
    for item in items:
        try:
            received = await runtime.ingestor.take(item.inbound)
        except FrontdeskError as exc:
            if exc.status >= 500:  # temporary: the whole delivery comes again (deduplicated)
                raise
            taken.refused.append((item.inbound.external_id, exc))
            continue
        if received.duplicate:
            taken.duplicates += 1
        else:
            taken.stored += 1
        taken.message_ids.append(received.message.id)
    if notices:
        await runtime.ingestor.apply([_notice(inbox, notice) for notice in notices])
        taken.statuses = len(notices)
    return refused_alone(taken, inbox)


def refused_alone(taken: Taken, inbox: Inbox) -> Taken:
    """A delivery whose every message was refused is refused (422, as a single message is);
    one with good messages too is answered 200 so Meta does not deliver it again, and the
    refused ones are reported (log, metric, the answer's `refused`), never silently lost."""
    for wamid, exc in taken.refused:
        log.error("whatsapp inbox %s: message %r refused: %s", inbox.id, wamid, exc.message)
    if taken.refused and not (taken.stored or taken.duplicates or taken.statuses):
        raise taken.refused[0][1]
    return taken


def _notice(inbox: Inbox, notice: StatusNotice) -> Notice:
    return Notice(
        inbox.id, notice.provider_message_id, notice.status,
        code=notice.code, text=notice.text, at=notice.at,
    )  # fmt: skip
