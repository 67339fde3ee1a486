"""An agent takes a call: connected at the caller's next turn, answered, ended; the recording
is downloaded (only from the provider's host), stored once as a blob on the call, then
deleted at the provider. A missed call waits for a callback, which click-to-call places."""

from __future__ import annotations

import asyncio
import re
import secrets

from sqlalchemy import func, select

from frontdesk.channels.voice.models import VoiceCall, VoiceQuarantine
from frontdesk.conversations.models import Attachment, Message
from frontdesk.kit.jobs import Job
from frontdesk.routing.service import ACW_END_JOB
from tests.channels.voice.conftest import AUDIO, AUTH_TOKEN, OUR_NUMBER, Caller, says
from tests.conftest import run_jobs, statements_containing


async def presence_of(client, cast) -> str:  # type: ignore[no-untyped-def]
    answer = await client.get(f"/api/v1/routing/agents/{cast.alice.id}", headers=cast.ada.headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["presence"])


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def first_message(runtime) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.scalar(select(Message).order_by(Message.id))
        assert found is not None
        return found


async def queued(client, voice, number: str) -> Caller:  # type: ignore[no-untyped-def]
    caller = Caller(client, voice, number)
    await caller.ring()
    await caller.press("3")
    await caller.press("1")
    return caller


async def answered_call(client, runtime, cast, voice) -> tuple[Caller, Message]:  # type: ignore[no-untyped-def]
    caller = await queued(client, voice, "+971501234567")
    call = await first_message(runtime)
    taken = await client.post(f"/api/v1/calls/{call.id}/answer", headers=cast.alice.headers)
    assert taken.status_code == 200, taken.text
    await caller.follow_redirect()  # the caller's next turn
    client_leg = caller.verb("Dial").find("Client")
    assert client_leg is not None and client_leg.text == f"agent-{cast.alice.id}"
    assert caller.verb("Dial").get("record") == "record-from-answer-dual"
    assert (await caller.agent_answers()).json()["outcome"] == "answered"
    return caller, call


class TestAnswering:
    async def test_the_agent_is_rung_and_the_call_ends_with_its_duration(
        self, client, runtime, cast, voice
    ):
        caller, call = await answered_call(client, runtime, cast, voice)
        listed = await client.get(
            f"/api/v1/conversations/{call.conversation_id}/messages", headers=cast.alice.headers
        )
        [item] = listed.json()["items"]
        assert item["kind"] == "call" and item["call"]["status"] == "answered"
        assert item["call"]["agent_id"] == cast.alice.id
        assert item["call"]["wait_seconds"] >= 0
        assert item["answered"] is True
        await caller.dial_ends("completed", duration=42)
        assert caller.twiml.find("Hangup") is not None
        listed = await client.get(
            f"/api/v1/conversations/{call.conversation_id}/messages", headers=cast.alice.headers
        )
        ended = listed.json()["items"][0]["call"]
        assert (ended["status"], ended["duration_seconds"]) == ("ended", 42)
        assert (await caller.hang_up()).json()["outcome"] == "ignored"

    async def test_the_timeline_writes_the_duration_in_the_agent_s_digits(
        self, client, runtime, cast, voice
    ):
        from tests.web.test_views import log_in

        caller, call = await answered_call(client, runtime, cast, voice)
        await caller.dial_ends("completed", duration=125)
        await log_in(client, cast.alice)
        page = f"/conversations/{call.conversation_id}"
        duration = r'data-testid="fd-call-duration">([^<]*)<'
        assert re.findall(duration, (await client.get(page)).text) == ["2:05"]
        for lang, shown in (("ar", "\u0662:\u0660\u0665"), ("fa", "\u06f2:\u06f0\u06f5")):
            changed = await client.patch(
                f"/api/v1/agents/{cast.alice.id}", json={"language": lang}, headers=cast.ada.headers
            )
            assert changed.status_code == 200, changed.text
            assert re.findall(duration, (await client.get(page)).text) == [shown]

    async def test_with_the_presence_rule_the_agent_is_busy_then_in_after_call_work(
        self, client, runtime, cast, voice
    ):
        rule = await client.patch(
            "/api/v1/routing/presence-rule",
            json={"enabled": True, "acw_seconds": {"voice": 20}},
            headers=cast.ada.headers,
        )
        assert rule.status_code == 200
        ready = await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}",
            json={"presence": "available"},
            headers=cast.alice.headers,
        )
        assert ready.status_code == 200
        caller, _ = await answered_call(client, runtime, cast, voice)
        await run_jobs(runtime)
        assert await presence_of(client, cast) == "busy"
        await caller.dial_ends("completed", duration=42)
        await run_jobs(runtime)
        assert await presence_of(client, cast) == "after_call_work"
        async with runtime.db.session() as session:
            [job] = (await session.scalars(select(Job).where(Job.kind == ACW_END_JOB))).all()
            assert round((job.run_at - job.created_at).total_seconds()) == 20
        await caller.hang_up()  # the provider's final status: the call ended already
        await run_jobs(runtime)
        assert await presence_of(client, cast) == "after_call_work"

    async def test_a_routed_call_not_picked_up_goes_back_to_the_queue_for_others(
        self, client, runtime, cast, voice
    ):
        """With routing on, answering a waiting call accepts its task for the agent (by hand,
        busy by the presence rule); not picking up gives the task back to the queue, not to
        them again, and the agent is available again."""
        queue = await client.post(
            "/api/v1/routing/queues", json={"name": "Phones"}, headers=cast.ada.headers
        )
        policy = await client.post(
            "/api/v1/routing/policies",
            json={"name": "Calls", "targets": [{"queue_id": queue.json()["id"]}]},
            headers=cast.ada.headers,
        )
        assert policy.status_code == 201
        await client.patch(
            "/api/v1/routing/presence-rule", json={"enabled": True}, headers=cast.ada.headers
        )
        await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}",
            json={"presence": "available"},
            headers=cast.alice.headers,
        )
        caller = await queued(client, voice, "+971501234567")
        await run_jobs(runtime)
        call = await first_message(runtime)
        await client.post(f"/api/v1/calls/{call.id}/answer", headers=cast.alice.headers)
        await run_jobs(runtime)
        [task] = (await client.get("/api/v1/tasks", headers=cast.ada.headers)).json()["items"]
        assert (task["status"], task["assignee_id"], task["by_hand"]) == (
            "assigned", cast.alice.id, True,
        )  # fmt: skip
        assert await presence_of(client, cast) == "busy"
        await caller.follow_redirect()
        await caller.dial_ends("no-answer", duration=0)
        await run_jobs(runtime)
        back = (await client.get(f"/api/v1/tasks/{task['id']}", headers=cast.ada.headers)).json()
        assert back["status"] == "waiting" and back["assignee_id"] is None
        assert await presence_of(client, cast) == "available"

    async def test_an_agent_who_does_not_pick_up_sends_the_caller_back_to_the_queue(
        self, client, runtime, cast, voice
    ):
        caller = await queued(client, voice, "+971501234567")
        call = await first_message(runtime)
        await client.post(f"/api/v1/calls/{call.id}/answer", headers=cast.alice.headers)
        await caller.follow_redirect()
        await caller.dial_ends("no-answer", duration=0)
        assert says(caller.twiml)[0][1] == "You are number 1 in the queue."
        async with runtime.db.session() as session:
            row = await session.scalar(select(VoiceCall))
            assert row is not None and (row.state, row.agent_id) == ("queued", None)
        conversation = await client.get(
            f"/api/v1/conversations/{call.conversation_id}", headers=cast.alice.headers
        )
        assert conversation.json()["assignee_id"] is None

    async def test_an_agent_who_cannot_see_the_inbox_cannot_take_the_call(
        self, client, runtime, cast, voice
    ):
        await queued(client, voice, "+971501234567")
        call = await first_message(runtime)
        refused = await client.post(f"/api/v1/calls/{call.id}/answer", headers=cast.bob.headers)
        assert refused.status_code == 404


class TestRecording:
    async def test_it_is_stored_once_and_deleted_at_the_provider(
        self, client, runtime, cast, voice, provider
    ):
        caller, call = await answered_call(client, runtime, cast, voice)
        callback = caller.verb("Dial").get("recordingStatusCallback") or ""
        sid, first = await caller.recording(provider, callback)
        _, again = await caller.recording(provider, callback, sid=sid)
        assert first.status_code == again.status_code == 200
        assert await run_jobs(runtime) >= 2  # fetch, then delete
        assert provider.deleted == [sid] and sid not in provider.recordings
        assert provider.bad_auth == 0
        assert await count(runtime, Attachment) == 1
        listed = await client.get(
            f"/api/v1/conversations/{call.conversation_id}/messages", headers=cast.alice.headers
        )
        item = listed.json()["items"][0]
        [attachment] = item["attachments"]
        assert item["call"]["recording"] == attachment["id"]
        assert attachment["content_type"] == "audio/mpeg"
        audio = await client.get(attachment["url"], headers=cast.alice.headers)
        assert audio.status_code == 200 and audio.content == AUTH_TOKEN.encode() + AUDIO
        # The provider repeats the callback after we stored it: nothing more is stored.
        provider.recordings[sid] = b"again"
        await caller.recording(provider, callback, sid=sid)
        await run_jobs(runtime)
        assert await count(runtime, Attachment) == 1

    async def test_recordings_ready_together_queue_their_jobs_in_one_read_and_one_insert(
        self, client, runtime, cast, voice, provider
    ):
        callers = []
        for i in range(5):
            caller = await queued(client, voice, f"+97150123000{i}")
            call = await _message_of(runtime, caller.sid)
            taken = await client.post(f"/api/v1/calls/{call}/answer", headers=cast.alice.headers)
            assert taken.status_code == 200, taken.text
            await caller.follow_redirect()
            await caller.agent_answers()
            callers.append(caller)
        sids = ["RE" + secrets.token_hex(16) for _ in callers]
        # Every engine: the voice writer's group commits run on SQLite's own pool.
        with statements_containing(runtime, "") as statements:
            # At the same moment (one batch of the voice writer), the first one twice.
            answers = await asyncio.gather(*(
                caller.recording(provider, caller.verb("Dial").get("recordingStatusCallback")
                                 or "", sid=sid)
                for caller, sid in [*zip(callers, sids, strict=True), (callers[0], sids[0])]
            ))  # fmt: skip
        statements = [" ".join(sql.split()) for sql in statements]
        assert [response.json()["outcome"] for _, response in answers] == ["queued"] * 6
        reads = [sql for sql in statements if sql.startswith("SELECT jobs.")]
        inserts = [sql for sql in statements if sql.startswith("INSERT INTO jobs")]
        # One read of the queued keys and one insert for the batch, not one each per step.
        assert len(reads) == 1 and "IN" in reads[0], reads
        assert len(inserts) == 1, inserts
        assert await _fetch_jobs(runtime) == 5
        with statements_containing(runtime, "SELECT inboxes.") as inbox_reads:
            assert await run_jobs(runtime) >= 10  # each fetched, then deleted
        # The jobs take the inbox from the process's inbox rows (read again at most once,
        # should they expire meanwhile), not in a transaction each.
        assert len(inbox_reads) <= 1
        assert sorted(provider.deleted) == sorted(sids)
        assert await count(runtime, Attachment) == 5

    async def test_a_recording_url_off_the_providers_host_is_refused(
        self, client, runtime, cast, voice
    ):
        caller, _ = await answered_call(client, runtime, cast, voice)
        callback = caller.verb("Dial").get("recordingStatusCallback") or ""
        response = await caller.post(
            callback, RecordingSid="RE" + "0" * 32, RecordingStatus="completed",
            RecordingUrl="http://169.254.169.254/latest/meta-data",
        )  # fmt: skip
        assert response.status_code == 422
        assert await count(runtime, Job) == 0 or not await _fetch_jobs(runtime)
        assert await count(runtime, VoiceQuarantine) == 1

    async def test_a_voicemail_lands_on_the_call(self, client, runtime, cast, provider):
        from tests.channels.voice.conftest import create_voice_inbox

        voice = await create_voice_inbox(client, runtime, cast, provider, open_days=[])
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()
        record = caller.verb("Record")
        sid, _ = await caller.recording(provider, record.get("recordingStatusCallback") or "")
        await caller.post(record.get("action") or "", RecordingDuration="9")
        await run_jobs(runtime)
        call = await first_message(runtime)
        assert call.meta["call"]["status"] == "voicemail"
        assert call.meta["call"]["recording"] is not None
        assert provider.deleted == [sid]


async def _message_of(runtime, sid: str) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.scalar(select(Message.id).where(Message.provider_message_id == sid))
        assert found is not None
        return int(found)


async def _fetch_jobs(runtime) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Job).where(Job.kind == "voice.fetch_recording")
            )
            or 0
        )


class TestMissedCall:
    async def test_a_missed_call_waits_for_a_callback_which_click_to_call_places(
        self, client, runtime, cast, voice, provider
    ):
        caller = await queued(client, voice, "+971501234567")
        assert (await caller.hang_up()).json()["outcome"] == "missed"
        call = await first_message(runtime)
        conversation = await client.get(
            f"/api/v1/conversations/{call.conversation_id}", headers=cast.alice.headers
        )
        assert conversation.json()["status"] == "open"
        assert "callback" in conversation.json()["tags"]
        assert call.answered is False and call.meta["call"]["status"] == "missed"
        # Alice calls back.
        placed = await client.post(
            f"/api/v1/conversations/{call.conversation_id}/calls", headers=cast.alice.headers
        )
        assert placed.status_code == 201, placed.text
        assert placed.json()["to_number"] == "+971501234567"
        await run_jobs(runtime)
        [created] = provider.calls_created
        assert (created["To"], created["From"]) == ("+971501234567", OUR_NUMBER)
        back = Caller(client, voice, "+971501234567")
        outbound = back.params()
        del outbound["CallSid"]
        picked = await back.post(created["Url"], Direction="outbound-api")
        dial = back.verb("Dial")
        assert dial.find("Client").text == f"agent-{cast.alice.id}"
        status = created["StatusCallback"]
        assert (await back.post(status, CallStatus="in-progress")).json()["outcome"] == "answered"
        done = await back.post(status, CallStatus="completed", CallDuration="65")
        assert picked.status_code == 200 and done.json()["outcome"] == "ended"
        listed = await client.get(
            f"/api/v1/conversations/{call.conversation_id}/messages", headers=cast.alice.headers
        )
        missed, callback = listed.json()["items"]
        assert missed["answered"] is True  # someone called back
        assert callback["direction"] == "outbound" and callback["kind"] == "call"
        assert (callback["call"]["status"], callback["call"]["duration_seconds"]) == ("ended", 65)
        conversation = await client.get(
            f"/api/v1/conversations/{call.conversation_id}", headers=cast.alice.headers
        )
        assert "callback" not in conversation.json()["tags"]

    async def test_click_to_call_needs_a_voice_conversation(self, client, runtime, cast):
        from tests.conftest import inbound_payload, post_inbound

        stored = await post_inbound(client, cast.website, inbound_payload("m-1", "+971501234567"))
        refused = await client.post(
            f"/api/v1/conversations/{stored.json()['conversation_id']}/calls",
            headers=cast.alice.headers,
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "not_voice"


class TestWebhooks:
    async def test_a_bad_signature_is_403_and_nothing_is_stored(self, client, runtime, voice):
        caller = Caller(client, voice, "+971501234567", token="x" * 32)
        response = await caller.ring()
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "bad_signature"
        assert await count(runtime, Message) == 0

    async def test_a_signature_for_another_route_is_refused(self, client, runtime, voice):
        caller = Caller(client, voice, "+971501234567")
        _, body, headers = caller.signed(voice.webhook_url + "/status", caller.params())
        response = await client.post(
            voice.webhook_url[len(voice.base_url) :], content=body, headers=headers
        )
        assert response.status_code == 403
        assert await count(runtime, Message) == 0

    async def test_a_malformed_webhook_is_422_and_quarantined(self, client, runtime, voice):
        caller = Caller(client, voice, "not a number at all")
        response = await caller.post(voice.webhook_url, CallSid="")
        assert response.status_code == 422
        assert await count(runtime, Message) == 0
        async with runtime.db.session() as session:
            [row] = (await session.scalars(select(VoiceQuarantine))).all()
        assert row.route == "incoming" and "CallSid" in row.reason
        assert row.params["From"] == "not a number at all"

    async def test_poison_webhooks_are_refused_or_kept_and_never_block_the_good_ones(
        self, client, runtime, voice
    ):
        """What the shared poison test feeds text channels, in a call's fields (a call has no
        text): a NUL and a lone surrogate in the caller's number and name, then a good call."""
        for n, poison in enumerate(("+97150\x001234", "+97150\ud8001234")):
            caller = Caller(client, voice, "+971501234567")
            try:
                response = await caller.post(voice.webhook_url, From=poison, CallerName=poison)
            except UnicodeEncodeError:  # the surrogate cannot be signed: sent as its bytes
                continue
            assert response.status_code in (200, 422), (n, response.text)
        good = Caller(client, voice, "+971509999999")
        response = await good.post(voice.webhook_url)
        assert response.status_code == 200
        async with runtime.db.session() as session:
            calls = (await session.scalars(select(Message))).all()
        good_calls = [m for m in calls if "9999999" in str(m.meta["call"].get("from_number"))]
        assert [m.kind for m in good_calls] == ["call"]

    async def test_another_accounts_webhook_is_refused(self, client, runtime, voice):
        caller = Caller(client, voice, "+971501234567")
        response = await caller.post(voice.webhook_url, AccountSid="AC" + "1" * 32)
        assert response.status_code == 422
        assert await count(runtime, Message) == 0

    async def test_the_inbox_reports_its_webhook_url(self, client, cast, voice):
        shown = (await client.get(f"/api/v1/inboxes/{voice.id}", headers=cast.ada.headers)).json()
        assert shown["webhook_url"].endswith(f"/webhooks/voice/{voice.id}")
        assert (
            "auth_token" not in shown.get("settings", {})
            or shown["settings"]["auth_token"] != AUTH_TOKEN
        )
