"""A demo call history on the phone inbox: answered calls with their recordings, a missed
call waiting for its callback, a voicemail and a callback an agent placed. The callers are
the history's SMS and WhatsApp customers (same numbers, same customers). Deterministic."""

from __future__ import annotations

import io
import math
import random
import wave
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import calls
from frontdesk.conversations import service as conversations
from frontdesk.db import utcnow
from frontdesk.demo.history import PREFIX, _people
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound
from frontdesk.runtime import Runtime

# (status, duration seconds, waited seconds, recorded) of each demo call, oldest first.
CALLS = [
    ("ended", 184, 35, True), ("ended", 95, 12, True), ("missed", None, 140, False),
    ("voicemail", 21, None, True), ("ended", 312, 64, True), ("missed", None, 48, False),
    ("ended", 47, 5, False), ("ended", 226, 90, True),
]  # fmt: skip


def tone(seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A short WAV (a soft two-tone chime) standing in for a recorded call."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        pitch = 440 if i < rate * seconds / 2 else 554
        frames.append(int(128 + 40 * math.sin(2 * math.pi * pitch * i / rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(1)
        file.setframerate(rate)
        file.writeframes(bytes(frames))
    return out.getvalue()


async def seed_calls(
    session: AsyncSession, runtime: Runtime, *, inboxes: list[Inbox], agents: list[Any]
) -> int:
    """The calls (once: their external ids are fixed); returns how many were stored."""
    phone = next((inbox for inbox in inboxes if inbox.channel == "voice"), None)
    if phone is None or not agents:
        return 0
    by_channel = {inbox.channel: inbox for inbox in inboxes}
    # The history's own people (same seed): callers who also write by SMS or WhatsApp.
    people = [
        p for p in _people(random.Random(20261205), by_channel)
        if {"sms", "whatsapp"} & set(p.channels)
    ] or []  # fmt: skip
    rng = random.Random(15)
    [audio_key] = await runtime.blobs.put_many_async([tone()])
    now = utcnow()
    stored = 0
    for index, (status, duration, waited, recorded) in enumerate(CALLS):
        person = people[index % len(people)] if people else None
        number = (
            f"{PREFIX[person.language]}{person.number:04d}" if person else f"+1415555{index:04d}"
        )
        when = now - timedelta(days=len(CALLS) - index, minutes=rng.randint(0, 600))
        received = await conversations.receive(
            session,
            Inbound(
                inbox_id=phone.id, external_id=f"demo-call-{index}", address=number,
                name=person.name if person else None, text="", kind=calls.CALL_KIND,
                meta={"call": {"direction": "inbound", "status": "ringing",
                               "from_number": number, "to_number": "+15005550007"}},
            ),
            blobs=runtime.blobs,
        )  # fmt: skip
        if received.duplicate:
            continue
        message = received.message
        agent = agents[index % len(agents)]
        language = person.language if person else "en"
        if status == "ended":
            await calls.update_call(
                session, message, status="ended", agent_id=agent.id, language=language,
                duration_seconds=duration, wait_seconds=waited,
            )  # fmt: skip
        elif status == "missed":
            await calls.update_call(session, message, status="missed", language=language)
            await calls.flag_callback(session, message, reason="missed")
        else:
            await calls.update_call(session, message, status="voicemail", duration_seconds=duration)
            await calls.flag_callback(session, message, reason="voicemail")
        if recorded:
            await calls.attach_recording(
                session, message, filename=f"call-demo-{index}.wav", content_type="audio/wav",
                size=len(tone()), blob_key=audio_key,
            )  # fmt: skip
        message.created_at = message.sent_at = when
        received.conversation.last_message_at = when
        stored += 1
    await session.flush()
    return stored
