"""The demo's office phone system (CTI): a CTI inbox whose PBX would post its call events
(no AMI: there is no PBX here), the demo agents' extensions, and a short CTI call history on
the same customers as the SMS and WhatsApp history (an answered call, a transferred one, a
missed one waiting for its callback). Deterministic; seeded once."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import calls
from frontdesk.conversations import service as conversations
from frontdesk.db import utcnow
from frontdesk.demo.cast import PERSONAS
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.runtime import Runtime

CTI_NAME = "Office PBX (CTI)"
# Extensions of the demo agents, by e-mail.
EXTENSIONS = {"alice@frontdesk.test": "201", "bob@frontdesk.test": "202",
              "sara@frontdesk.test": "203"}  # fmt: skip
# (persona, extensions it rang in order, final status, seconds talked, days ago)
HISTORY = [
    ("layla", ["201"], "ended", 143, 3),
    ("omar", ["201", "202"], "ended", 268, 2),
    ("reza", ["203"], "missed", None, 1),
]


async def seed_cti_inbox(session: AsyncSession, runtime: Runtime, team_ids: list[int]) -> Inbox:
    """The CTI inbox (once) with a 90-day retention of recordings and transcripts."""
    rows = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=500)
    found = next((r for r in rows if r.channel == "cti" and r.name == CTI_NAME), None)
    if found is not None:
        return found
    settings = {"signing_secret": secrets.token_hex(24), "default_region": "AE",
                "retention_days": 90}  # fmt: skip
    data = InboxCreate(channel="cti", name=CTI_NAME, team_ids=team_ids, settings=settings)
    return await inboxes.create_inbox(session, data, runtime.settings)


async def seed_cti(
    session: AsyncSession, runtime: Runtime, *, inbox: Inbox, agents: list[Any]
) -> int:
    """The agents' extensions (where unset) and the CTI call history; how many calls."""
    by_extension: dict[str, Any] = {}
    for agent in agents:
        wanted = EXTENSIONS.get(agent.email)
        if wanted and agent.extension is None:
            agent.extension = wanted
        if agent.extension:
            by_extension[agent.extension] = agent
    await session.flush()
    people = {p.key: p for p in PERSONAS}
    stored = 0
    for index, (key, rang, status, talked, days) in enumerate(HISTORY):
        person = people[key]
        received = await conversations.receive(
            session,
            Inbound(
                inbox_id=inbox.id, external_id=f"demo-cti-{index}", address=person.phone,
                name=person.name, text="", kind=calls.CALL_KIND,
                meta={"call": {"direction": "inbound", "status": "ringing", "source": "cti",
                               "from_number": person.phone, "to_number": "100"}},
            ),
            blobs=runtime.blobs,
        )  # fmt: skip
        if received.duplicate:
            continue
        message = received.message
        last = by_extension.get(rang[-1])
        changes: dict[str, Any] = {"extension": rang[-1], "popped": rang}
        if len(rang) > 1:
            changes["transfers"] = rang[1:]
        if status == "ended" and last is not None:
            changes.update(status="ended", agent_id=last.id, duration_seconds=talked,
                           wait_seconds=9 + index * 4)  # fmt: skip
            await calls.update_call(session, message, **changes)
        else:
            await calls.update_call(session, message, status="missed", **changes)
            await calls.flag_callback(session, message, reason="missed")
        when = utcnow() - timedelta(days=days, hours=index)
        message.created_at = message.sent_at = when
        received.conversation.last_message_at = when
        stored += 1
    await session.flush()
    return stored
