"""A demo history of browser calls (WebRTC, from the website's chat widget): answered video
and audio calls and a missed one waiting for its callback, by the history's own webchat
visitors. Recordings come from real calls: the demo chat inbox records them. Deterministic."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import calls
from frontdesk.conversations import service as conversations
from frontdesk.db import utcnow
from frontdesk.demo.history import _people
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound
from frontdesk.runtime import Runtime

# (media, status, duration seconds, waited seconds) of each demo call, oldest first.
BROWSER_CALLS = [
    ("video", "ended", 245, 9), ("audio", "ended", 131, 22), ("video", "missed", None, 60),
    ("video", "ended", 402, 14),
]  # fmt: skip


async def seed_browser_calls(
    session: AsyncSession, runtime: Runtime, *, inboxes: list[Inbox], agents: list[Any]
) -> int:
    """The calls (once: their external ids are fixed); returns how many were stored."""
    chat = next((inbox for inbox in inboxes if inbox.channel == "webchat"), None)
    if chat is None or not agents:
        return 0
    by_channel = {inbox.channel: inbox for inbox in inboxes}
    people = [p for p in _people(random.Random(20261205), by_channel) if "webchat" in p.channels]
    now = utcnow()
    stored = 0
    for index, (media, status, duration, waited) in enumerate(BROWSER_CALLS):
        person = people[index % len(people)] if people else None
        address = person.address("webchat", chat) if person else f"wc{chat.id}-vcall{index:04d}"
        received = await conversations.receive(
            session,
            Inbound(
                inbox_id=chat.id, external_id=f"demo-browser-call-{index}", address=address,
                name=person.name if person else None, text="", kind=calls.CALL_KIND,
                meta={"call": {"direction": "inbound", "status": "ringing", "media": media,
                               "webrtc": True, "recorded": False}},
            ),
            blobs=runtime.blobs,
        )  # fmt: skip
        if received.duplicate:
            continue
        message = received.message
        if status == "ended":
            agent = agents[index % len(agents)]
            await calls.update_call(
                session, message, status="ended", agent_id=agent.id, end_reason="hangup",
                duration_seconds=duration, wait_seconds=waited,
            )  # fmt: skip
        else:
            await calls.update_call(session, message, status="missed", end_reason="no_answer")
            await calls.flag_callback(session, message, reason="no_answer")
        when = now - timedelta(days=len(BROWSER_CALLS) - index, hours=index * 3)
        message.created_at = message.sent_at = when
        received.conversation.last_message_at = when
        stored += 1
    await session.flush()
    return stored
