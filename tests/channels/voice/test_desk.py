"""A call on the desktop timeline: its icon, status, duration, the recording's player, and
the Answer and Call back buttons (in the agent's language, right to left in Persian)."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.conversations.models import Message
from tests.channels.voice.conftest import Caller
from tests.channels.voice.test_answering import answered_call
from tests.conftest import run_jobs
from tests.web.test_views import csrf_of, log_in


async def only_call(runtime) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.scalar(select(Message).order_by(Message.id))
    assert found is not None
    return found


class TestTimeline:
    async def test_an_ended_call_shows_its_duration_and_plays_its_recording(
        self, client, runtime, cast, voice, provider
    ):
        caller, call = await answered_call(client, runtime, cast, voice)
        await caller.recording(provider, caller.verb("Dial").get("recordingStatusCallback") or "")
        await caller.dial_ends("completed", duration=95)
        await run_jobs(runtime)
        stored = await only_call(runtime)
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{call.conversation_id}")
        assert page.status_code == 200
        assert 'data-testid="fd-call" data-status="ended"' in page.text
        assert "Incoming call" in page.text and "1:35" in page.text
        recording = stored.meta["call"]["recording"]
        assert f'<audio controls preload="none" src="/desk/attachments/{recording}"' in page.text
        audio = await client.get(f"/desk/attachments/{recording}")
        assert audio.status_code == 200 and audio.headers["content-type"].startswith("audio/")

    async def test_a_waiting_call_is_answered_from_the_desk(self, client, runtime, cast, voice):
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()
        await caller.press("3")
        await caller.press("1")
        call = await only_call(runtime)
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{call.conversation_id}")
        assert 'data-testid="fd-call-answer"' in page.text
        taken = await client.post(
            f"/calls/{call.id}/take", data={"csrf": csrf_of(page.text)}, follow_redirects=False
        )
        assert taken.status_code == 303
        await caller.follow_redirect()
        assert caller.verb("Dial").find("Client").text == f"agent-{cast.alice.id}"

    async def test_a_missed_call_offers_call_back_in_persian(
        self, client, runtime, cast, voice, provider
    ):
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()
        await caller.hang_up()
        call = await only_call(runtime)
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{call.conversation_id}")
        assert 'dir="rtl"' in page.text
        assert "تماس ورودی" in page.text and "از دست رفته" in page.text
        assert 'data-testid="fd-call-back"' in page.text
        placed = await client.post(
            f"/conversations/{call.conversation_id}/call",
            data={"csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert placed.status_code == 303
        await run_jobs(runtime)
        assert [c["To"] for c in provider.calls_created] == ["+971501234567"]
