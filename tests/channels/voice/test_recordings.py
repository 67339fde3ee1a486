"""After a recording is stored (issue 15 §5, §6): the agent pauses it to take a payment and
resumes it (the provider is asked); it is transcribed by the configured engine (here the
deterministic fake), card numbers masked, searchable; and the inbox's retention policy
deletes recordings and transcripts after N days, the blob collector then the files."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from frontdesk.blobgc import collect
from frontdesk.conversations.models import Attachment, Message
from frontdesk.conversations.recordings import RETENTION_JOB
from frontdesk.conversations.transcription import FAKE_PREFIX
from frontdesk.db import utcnow
from frontdesk.desk import repository as desk_repository
from frontdesk.kit import jobs, uow
from tests.channels.voice.conftest import ALWAYS_OPEN, create_voice_inbox
from tests.channels.voice.test_answering import answered_call
from tests.conftest import run_jobs
from tests.web.test_desk import login

CARD = "4111 1111 1111 1111"
SPOKEN = f"my card is {CARD} and my order is 1182"


async def recorded_call(client, runtime, cast, voice, provider, audio: bytes):  # type: ignore[no-untyped-def]
    caller, call = await answered_call(client, runtime, cast, voice)
    callback = caller.verb("Dial").get("recordingStatusCallback") or ""
    sid = "RE" + "5" * 32
    provider.recordings[sid] = audio
    await caller.recording(provider, callback, sid=sid)
    await caller.dial_ends()
    await run_jobs(runtime)
    return caller, call


async def call_of(runtime, message_id: int) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.get(Message, message_id)
        await session.commit()
    assert found is not None
    return found


async def attachments(runtime) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.scalar(select(func.count()).select_from(Attachment))
        await session.commit()
    return int(found or 0)


class TestPaymentPause:
    async def test_take_payment_pauses_and_resume_resumes_at_the_provider(
        self, client, runtime, cast, voice, provider
    ):
        caller, call = await answered_call(client, runtime, cast, voice)
        paused = await client.post(
            f"/api/v1/calls/{call.id}/recording", json={"status": "paused"},
            headers=cast.alice.headers,
        )  # fmt: skip
        assert paused.status_code == 200, paused.text
        assert paused.json()["recording_paused"] is True
        assert (await call_of(runtime, call.id)).meta["call"]["recording_paused"] is True
        resumed = await client.post(
            f"/api/v1/calls/{call.id}/recording", json={"status": "in-progress"},
            headers=cast.alice.headers,
        )  # fmt: skip
        assert resumed.json()["recording_paused"] is False
        assert provider.recording_changes == [
            (caller.sid, "paused", "skip"), (caller.sid, "in-progress", None),
        ]  # fmt: skip
        assert provider.bad_auth == 0

    async def test_a_call_not_in_progress_cannot_be_paused(
        self, client, runtime, cast, voice, provider
    ):
        caller, call = await answered_call(client, runtime, cast, voice)
        await caller.dial_ends()
        refused = await client.post(
            f"/api/v1/calls/{call.id}/recording", json={"status": "paused"},
            headers=cast.alice.headers,
        )  # fmt: skip
        assert refused.status_code == 409
        assert provider.recording_changes == []
        wrong = await client.post(
            f"/api/v1/calls/{call.id}/recording", json={"status": "stop-it"},
            headers=cast.alice.headers,
        )  # fmt: skip
        assert wrong.status_code == 422

    async def test_an_agent_who_cannot_see_the_call_cannot_pause_it(
        self, client, runtime, cast, voice, provider
    ):
        _, call = await answered_call(client, runtime, cast, voice)
        refused = await client.post(
            f"/api/v1/calls/{call.id}/recording", json={"status": "paused"},
            headers=cast.bob.headers,
        )  # fmt: skip
        assert refused.status_code == 404
        assert provider.recording_changes == []


class TestTranscription:
    async def test_the_transcript_is_stored_redacted_and_searchable(
        self, client, runtime, cast, voice, provider
    ):
        runtime.settings.transcriber = "fake"
        _, call = await recorded_call(
            client, runtime, cast, voice, provider, FAKE_PREFIX + SPOKEN.encode()
        )
        stored = await call_of(runtime, call.id)
        transcript = stored.meta["call"]["transcript"]
        assert "order is 1182" in transcript
        assert CARD not in transcript and "4111111111111111" not in transcript.replace(" ", "")
        assert stored.text == transcript
        listed = await client.get(
            f"/api/v1/conversations/{call.conversation_id}/messages", headers=cast.alice.headers
        )
        assert listed.json()["items"][0]["call"]["transcript"] == transcript
        async with runtime.db.session() as session:
            found = await desk_repository.search_conversations(session, "1182", visible=None)
            await session.commit()
        assert call.conversation_id in found

    async def test_without_an_engine_nothing_is_transcribed(
        self, client, runtime, cast, voice, provider
    ):
        _, call = await recorded_call(client, runtime, cast, voice, provider, b"ID3" + b"x" * 99)
        assert (await call_of(runtime, call.id)).meta["call"].get("transcript") is None


class TestRetention:
    async def test_recordings_and_transcripts_go_after_the_inbox_retention(
        self, client, runtime, cast, provider
    ):
        runtime.settings.transcriber = "fake"
        voice = await create_voice_inbox(
            client, runtime, cast, provider, retention_days=30, **ALWAYS_OPEN
        )
        _, call = await recorded_call(
            client, runtime, cast, voice, provider, FAKE_PREFIX + b"hello there"
        )
        stored = await call_of(runtime, call.id)
        [attachment_id] = [stored.meta["call"]["recording"]]
        async with runtime.db.session() as session:
            key = (await session.get(Attachment, attachment_id)).blob_key
            await session.commit()
        assert runtime.blobs.get(key)

        async def retention() -> None:
            async with runtime.db.session() as session:
                await jobs.enqueue(session, RETENTION_JOB, {})
                await uow.commit(session)
            await run_jobs(runtime)

        with time_machine.travel(utcnow() + timedelta(days=29)):
            await retention()
        assert await attachments(runtime) == 1  # not yet

        with time_machine.travel(utcnow() + timedelta(days=31)):
            await retention()
            assert await attachments(runtime) == 0
            kept = await call_of(runtime, call.id)
            info = kept.meta["call"]
            assert info["recording"] is None and info["transcript"] is None
            assert info["recording_deleted"] == "retention"
            assert info["status"] == "ended"  # the call itself stays on the timeline
            assert kept.text == ""
            await login(client, cast.alice)
            page = await client.get(f"/conversations/{call.conversation_id}")
            assert "Recording deleted by retention policy" in page.text
            swept = await collect(runtime.db, runtime.blobs, grace=timedelta(0))
        assert swept.files >= 1
        try:
            runtime.blobs.get(key)
        except FileNotFoundError:
            pass
        else:
            raise AssertionError("the recording's file is still there")

    async def test_an_inbox_without_retention_keeps_its_recordings(
        self, client, runtime, cast, voice, provider
    ):
        await recorded_call(client, runtime, cast, voice, provider, b"ID3" + b"y" * 99)
        with time_machine.travel(utcnow() + timedelta(days=4000)):
            async with runtime.db.session() as session:
                await jobs.enqueue(session, RETENTION_JOB, {})
                await uow.commit(session)
            await run_jobs(runtime)
        assert await attachments(runtime) == 1


class TestPaymentButtons:
    async def test_the_desktop_buttons_pause_and_resume(
        self, client, runtime, cast, voice, provider
    ):
        _, call = await answered_call(client, runtime, cast, voice)
        csrf = await login(client, cast.alice)
        page = await client.get(f"/conversations/{call.conversation_id}")
        assert 'data-testid="fd-call-payment"' in page.text
        taken = await client.post(
            f"/calls/{call.id}/payment", data={"csrf": csrf, "action": "start"}
        )
        assert taken.status_code == 303
        page = await client.get(f"/conversations/{call.conversation_id}")
        assert 'data-testid="fd-call-paused"' in page.text
        assert 'data-testid="fd-call-resume"' in page.text
        resumed = await client.post(
            f"/calls/{call.id}/payment", data={"csrf": csrf, "action": "done"}
        )
        assert resumed.status_code == 303
        assert [status for _, status, _ in provider.recording_changes] == [
            "paused", "in-progress",
        ]  # fmt: skip
        forged = await client.post(
            f"/calls/{call.id}/payment", data={"csrf": "forged", "action": "start"}
        )
        assert forged.status_code in (400, 401, 403)
        assert len(provider.recording_changes) == 2
