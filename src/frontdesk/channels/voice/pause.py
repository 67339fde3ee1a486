"""Pause the recording while the agent takes a payment (PCI: no card number on tape), and
resume it after: the provider's REST API, POST .../Calls/{CallSid}/Recordings/Twilio.CURRENT.json
with Status=paused (PauseBehavior=skip: the pause leaves no silence) or Status=in-progress.

The provider is asked first, then the call's `recording_paused` is stored: the flag never
says "paused" while the tape still runs."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.channels.voice import repository
from frontdesk.channels.voice.adapter import voice_channel
from frontdesk.config import Settings
from frontdesk.conversations import calls
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Message
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit import http
from frontdesk.kit.errors import Conflict, Invalid, NotFound, Unavailable
from frontdesk.kit.security import check_outbound_url


async def set_paused(
    session: AsyncSession, message_id: int, *, agent: Agent, app: Settings, paused: bool
) -> Message:
    """Pause (or resume) the recording of an answered call the agent may see."""
    message = await conversations_repository.get_message(session, message_id)
    if message is None or message.kind != calls.CALL_KIND:
        raise NotFound("call not found")
    await conversations.get_or_raise(session, message.conversation_id, agent=agent)
    row = await repository.get_call_of_message(session, message.id)
    if row is None or row.state != "answered" or row.call_sid.startswith("pending:"):
        raise Conflict("only a call in progress is being recorded", code="call_not_in_progress")
    inbox = await inboxes_repository.get_inbox(session, row.inbox_id)
    if inbox is None:
        raise NotFound("call not found")
    inbox = opened_inbox(inbox, app)
    url = voice_channel.api(inbox, f"Calls/{row.call_sid}/Recordings/Twilio.CURRENT.json")
    check_outbound_url(url, allow_private=app.allow_private_webhooks)
    form = {"Status": "paused", "PauseBehavior": "skip"} if paused else {"Status": "in-progress"}
    try:
        async with http.calls(app.webhook_timeout_seconds) as client:
            response = await client.post(url, data=form, auth=voice_channel.auth(inbox))
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"the voice provider is unreachable: {exc}", code="provider_unreachable"
        ) from exc
    if not response.is_success:
        raise Invalid(
            f"the voice provider refused ({response.status_code})", code="provider_refused"
        )
    await calls.update_call(session, message, recording_paused=paused)
    return message
