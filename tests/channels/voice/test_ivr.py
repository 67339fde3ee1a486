# ruff: noqa: RUF001  (Arabic and Persian digits are what the callers hear)
"""Calls through the IVR: the language menu in Arabic, Persian and English, the queue menu,
position announcements, the callback that keeps its place, and voicemail after hours."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from frontdesk.channels.voice.models import VoiceCall
from frontdesk.conversations.models import Message
from tests.channels.voice.conftest import Caller, create_voice_inbox, says
from tests.conftest import inbound_payload, post_inbound


async def messages_of(runtime) -> list[Message]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def call_rows(runtime) -> list[VoiceCall]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list((await session.scalars(select(VoiceCall).order_by(VoiceCall.id))).all())


async def queued(client, voice, number: str, *, language: str = "3", queue: str = "1") -> Caller:  # type: ignore[no-untyped-def]
    caller = Caller(client, voice, number)
    assert (await caller.ring()).status_code == 200
    assert (await caller.press(language)).status_code == 200
    assert (await caller.press(queue)).status_code == 200
    return caller


class TestLanguageMenu:
    async def test_each_language_is_offered_in_its_own_language(self, client, voice):
        caller = Caller(client, voice, "+971501234567")
        response = await caller.ring()
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        gather = caller.verb("Gather")
        assert gather.get("numDigits") == "1"
        spoken = says(caller.twiml)
        assert [lang for lang, _ in spoken] == ["ar-AE", "fa-IR", "en-US"]
        assert "عربية" in spoken[0][1] and "١" in spoken[0][1]
        assert "فارسی" in spoken[1][1] and "۲" in spoken[1][1]
        assert spoken[2][1] == "For English, press 3."

    @pytest.mark.parametrize(
        ("digit", "say_language", "menu_word", "position_text"),
        [
            ("1", "ar-AE", "مبيعات", "أنت رقم ١ في قائمة الانتظار."),
            ("2", "fa-IR", "فروش", "شما نفر ۱ در صف هستید."),
            ("3", "en-US", "Sales", "You are number 1 in the queue."),
        ],
    )
    async def test_the_chosen_language_speaks_the_menu_and_the_queue(
        self, client, runtime, cast, provider, digit, say_language, menu_word, position_text
    ):
        voice = await create_voice_inbox(
            client, runtime, cast, provider,
            queue_choices=["1=1 Sales", "2=2 Support"],
            ar={"menu_text": "للمبيعات اضغط ١، وللدعم اضغط ٢."},
            fa={"menu_text": "برای فروش ۱ و برای پشتیبانی ۲ را فشار دهید."},
            open_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            opens_at="00:00", closes_at="24:00",
        )  # fmt: skip
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()
        await caller.press(digit)
        menu = says(caller.twiml)
        assert menu and all(lang == say_language for lang, _ in menu)
        assert menu_word in menu[0][1]
        await caller.press("1")
        spoken = says(caller.twiml)
        assert spoken[0] == (say_language, position_text)
        assert all(lang == say_language for lang, _ in spoken)
        [row] = await call_rows(runtime)
        assert (row.state, row.queue_id) == ("queued", 1)
        assert row.language == {"1": "ar", "2": "fa", "3": "en"}[digit]

    async def test_admin_audio_plays_instead_of_the_spoken_menu(
        self, client, runtime, cast, provider
    ):
        voice = await create_voice_inbox(
            client, runtime, cast, provider, welcome_audio_url="https://cdn.example.com/hi.mp3",
            open_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            opens_at="00:00", closes_at="24:00",
        )  # fmt: skip
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()
        play = caller.verb("Gather").find("Play")
        assert play is not None and play.text == "https://cdn.example.com/hi.mp3"
        assert says(caller.twiml) == []

    async def test_a_changed_menu_is_heard_by_the_next_caller(self, client, cast, voice):
        first = Caller(client, voice, "+971501234567")
        await first.ring()
        await first.press("3")
        assert says(first.twiml)[0][1] == "For Sales, press 1. For Support, press 2."
        changed = await client.patch(
            f"/api/v1/inboxes/{voice.id}",
            json={"settings": {"en": {"menu_text": "Press 1 for sales, 2 for help."}}},
            headers=cast.ada.headers,
        )
        assert changed.status_code == 200, changed.text
        second = Caller(client, voice, "+971501234568")
        await second.ring()
        await second.press("3")
        assert says(second.twiml)[0][1] == "Press 1 for sales, 2 for help."

    async def test_no_key_takes_the_first_language_and_a_wrong_key_repeats_the_menu(
        self, client, voice
    ):
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()
        await caller.follow_redirect()
        assert {lang for lang, _ in says(caller.twiml)} == {"ar-AE"}
        await caller.press("7")
        spoken = says(caller.twiml)
        assert spoken[0][0] == "ar-AE" and caller.verb("Gather") is not None
        assert spoken[0][1] != spoken[-1][1]  # "not a choice" first, then the menu again


class TestTheCallIsAConversation:
    async def test_the_caller_is_the_customer_known_from_another_channel(
        self, client, runtime, cast, voice
    ):
        sms_like = await post_inbound(
            client, cast.website, inbound_payload("m-1", "+971 50 123 4567", "hi")
        )
        assert sms_like.status_code == 202, sms_like.text
        customer_id = sms_like.json()["customer_id"]
        await Caller(client, voice, "+971501234567").ring()
        call = (await messages_of(runtime))[-1]
        assert call.kind == "call" and call.customer_id == customer_id
        timeline = await client.get(
            f"/api/v1/customers/{customer_id}/timeline", headers=cast.ada.headers
        )
        items = timeline.json()["items"]
        assert [item["kind"] for item in items] == ["message", "call"]
        assert items[0]["call"] is None
        assert items[1]["call"]["direction"] == "inbound"
        assert items[1]["call"]["status"] == "ringing"
        assert items[1]["call"]["from_number"] == "+971501234567"
        assert items[1]["call"]["recording"] is None

    async def test_a_repeated_webhook_stores_the_call_once(self, client, runtime, voice):
        caller = Caller(client, voice, "+971501234567")
        first = await caller.ring()
        again = await caller.ring()
        assert first.status_code == again.status_code == 200
        assert len(await messages_of(runtime)) == 1
        # The incoming call is one transaction (its message); the call's row comes with the
        # caller's next step, once, and a retry after that answers where the call is.
        assert len(await call_rows(runtime)) == 0
        await caller.press("3")
        assert len(await call_rows(runtime)) == 1
        late = await caller.ring()
        assert late.status_code == 200
        assert caller.twiml is not None and caller.twiml.find("Gather") is not None
        assert len(await messages_of(runtime)) == 1 and len(await call_rows(runtime)) == 1


class TestQueue:
    async def test_each_caller_hears_their_position(self, client, runtime, voice):
        first = await queued(client, voice, "+971501110001")
        second = await queued(client, voice, "+971501110002")
        third = await queued(client, voice, "+971501110003")
        other_queue = await queued(client, voice, "+971501110004", queue="2")
        assert says(first.twiml)[0][1] == "You are number 1 in the queue."
        assert says(second.twiml)[0][1] == "You are number 2 in the queue."
        assert says(third.twiml)[0][1] == "You are number 3 in the queue."
        assert says(other_queue.twiml)[0][1] == "You are number 1 in the queue."
        # The first caller gives up: the others move up at their next announcement.
        assert (await first.hang_up()).json()["outcome"] == "missed"
        await third.follow_redirect()
        assert says(third.twiml)[0][1] == "You are number 2 in the queue."

    async def test_callers_choosing_together_each_hear_their_own_place(self, client, voice):
        callers = [Caller(client, voice, f"+9715011200{i:02d}") for i in range(6)]
        for caller in callers:
            await caller.ring()
            await caller.press("3")
        # At the same moment: their steps are written together (one batch, one commit).
        answers = await asyncio.gather(*(caller.press("1") for caller in callers))
        assert all(answer.status_code == 200 for answer in answers)
        heard = sorted(says(caller.twiml)[0][1] for caller in callers)
        assert heard == sorted(f"You are number {n} in the queue." for n in range(1, 7))

    async def test_hold_music_plays_between_announcements(self, client, runtime, cast, provider):
        voice = await create_voice_inbox(
            client, runtime, cast, provider, languages=["en"],
            hold_music_url="https://cdn.example.com/hold.mp3",
            open_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            opens_at="00:00", closes_at="24:00",
        )  # fmt: skip
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()  # one language, no queue menu: straight into the queue
        play = caller.verb("Gather").find("Play")
        assert play is not None and play.text == "https://cdn.example.com/hold.mp3"
        assert caller.verb("Redirect").text.endswith("/wait")


class TestCallback:
    async def test_a_callback_keeps_the_callers_place(self, client, runtime, cast, voice):
        first = await queued(client, voice, "+971501110001")
        second = await queued(client, voice, "+971501110002")
        await first.press("*")
        spoken = says(first.twiml)
        assert "keep your place" in spoken[0][1]
        assert first.twiml.find("Hangup") is not None
        assert (await first.hang_up()).json()["outcome"] == "ignored"  # not a missed call
        await second.follow_redirect()
        assert says(second.twiml)[0][1] == "You are number 2 in the queue."
        third = await queued(client, voice, "+971501110003")
        assert says(third.twiml)[0][1] == "You are number 3 in the queue."
        call = (await messages_of(runtime))[0]
        conversation = (
            await client.get(
                f"/api/v1/conversations/{call.conversation_id}", headers=cast.ada.headers
            )
        ).json()
        assert "callback" in conversation["tags"]
        listed = await client.get(
            f"/api/v1/conversations/{call.conversation_id}/messages", headers=cast.ada.headers
        )
        [item] = listed.json()["items"]
        assert item["call"]["status"] == "missed"
        assert item["call"]["callback_requested"] is True
        assert item["answered"] is False


class TestAfterHours:
    async def test_callers_leave_a_voicemail(self, client, runtime, cast, provider):
        voice = await create_voice_inbox(client, runtime, cast, provider, open_days=[])
        caller = Caller(client, voice, "+971501234567")
        await caller.ring()
        spoken = says(caller.twiml)
        assert [lang for lang, _ in spoken] == ["ar-AE", "fa-IR", "en-US"]
        assert spoken[2][1] == "We are closed now. Please leave a message after the beep."
        record = caller.verb("Record")
        assert record.get("maxLength") == "120"
        await caller.post(record.get("action") or "", RecordingDuration="12")
        assert caller.twiml.find("Hangup") is not None
        [call] = await messages_of(runtime)
        assert call.meta["call"]["status"] == "voicemail"
        assert call.meta["call"]["duration_seconds"] == 12
        conversation = (
            await client.get(
                f"/api/v1/conversations/{call.conversation_id}", headers=cast.ada.headers
            )
        ).json()
        assert "callback" in conversation["tags"]
