"""Taking the gateway's webhooks in: messages stored exactly once (with their keyword's
effect), delivery reports landed on their message or kept until it has that id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from frontdesk.channels.sms_gateway.adapter import SCOPE, settings_of, sms_gateway_channel
from frontdesk.conversations.delivery import Notice
from frontdesk.conversations.keywords import receive_text
from frontdesk.conversations.receiving import Received
from frontdesk.inboxes.models import Inbox

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime


async def take_message(runtime: Runtime, inbox: Inbox, body: bytes) -> Received:
    inbound = sms_gateway_channel.parse_inbound(inbox, body, runtime.settings)
    return await receive_text(
        runtime.db,
        runtime.ingestor,
        inbound,
        blobs=runtime.blobs,
        scope=SCOPE,
        help_text=settings_of(inbox).help_text,
    )


async def take_status(runtime: Runtime, inbox: Inbox, body: bytes) -> str:
    """applied, pending (its message has no such id yet) or ignored (an unmapped word)."""
    notice = sms_gateway_channel.status_of(inbox, body)
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
