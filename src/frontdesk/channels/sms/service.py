"""Taking Twilio webhooks in: MMS media fetched first (outside any transaction) with the
account's credentials, then the message stored exactly once (with its keyword's effect);
status callbacks landed on their message, or kept until it has that sid."""

from __future__ import annotations

import logging
import mimetypes
from typing import TYPE_CHECKING

import httpx

from frontdesk.channels.sms.adapter import SCOPE, MediaRef, settings_of, sms_channel
from frontdesk.config import Settings
from frontdesk.conversations.delivery import Notice
from frontdesk.conversations.keywords import receive_text
from frontdesk.conversations.receiving import Received
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import InboundAttachment
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.security import check_outbound_url, safe_filename

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)


class ProviderUnavailable(FrontdeskError):
    """The provider could not give us a file now: 502 makes Twilio retry the webhook later
    (nothing was stored)."""

    status = 502
    code = "provider_unavailable"


async def take_message(runtime: Runtime, inbox: Inbox, params: dict[str, str]) -> Received:
    """One incoming SMS/MMS, stored (or found as a repeat) once committed."""
    inbound = sms_channel.inbound_of(inbox, params)
    refs = sms_channel.media_of(inbox, params)
    missing: list[str] = []
    for ref in refs:
        attachment = await _download(inbox, ref, runtime.settings)
        if attachment is None:
            missing.append(ref.url)
        else:
            inbound.attachments.append(attachment)
    if missing:
        inbound.meta = {**inbound.meta, "missing_files": missing}
    if not inbound.text and not inbound.attachments:
        inbound.text = "[file not available]" if refs else ""
    return await receive_text(
        runtime.db,
        runtime.ingestor,
        inbound,
        blobs=runtime.blobs,
        scope=SCOPE,
        help_text=settings_of(inbox).help_text,
    )


async def _download(inbox: Inbox, ref: MediaRef, app: Settings) -> InboundAttachment | None:
    """The file behind MediaUrlN, fetched with HTTP basic auth (account SID, auth token).
    A refusal (4xx) or an oversized file is noted instead; anything else → 502."""
    check_outbound_url(ref.url, allow_private=app.allow_private_webhooks)
    limit = app.max_attachment_bytes
    try:
        async with (
            httpx.AsyncClient(timeout=app.webhook_timeout_seconds, follow_redirects=True) as client,
            client.stream("GET", ref.url, auth=sms_channel.auth(inbox)) as response,
        ):
            if 400 <= response.status_code < 500:
                log.info("sms media %s refused: %s", ref.url, response.status_code)
                return None
            response.raise_for_status()
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    return None
            kind = response.headers.get("content-type", ref.content_type).split(";")[0].strip()
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"MMS media download failed: {exc}") from exc
    name = f"media-{ref.index}{mimetypes.guess_extension(kind) or ''}"
    return InboundAttachment(safe_filename(name, kind) or name, kind.lower(), bytes(data))


async def take_status(runtime: Runtime, inbox: Inbox, params: dict[str, str]) -> str:
    """One status callback: applied, kept for later (`pending`), or `ignored`."""
    notice = sms_channel.status_of(inbox, params)
    if notice is None:
        return "ignored"
    [applied] = await runtime.ingestor.apply(
        [
            Notice(
                inbox.id, notice.provider_message_id, notice.status,
                code=notice.code, text=notice.text,
            )
        ]
    )  # fmt: skip
    return "applied" if applied is not None else "pending"
