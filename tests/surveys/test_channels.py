"""Surveys inside the customer's channel, against the fake providers: a digit reply on SMS
(the next digit answers the pending survey; the conversation it would have opened is
closed), a list on WhatsApp and an inline keyboard on Telegram whose presses answer."""

from __future__ import annotations

from frontdesk.conversations.models import Conversation
from tests.channels.sms import conftest as sms_kit
from tests.channels.sms.conftest import create_sms_inbox
from tests.channels.sms.conftest import deliver as deliver_sms
from tests.channels.sms.conftest import fixture as sms_fixture
from tests.channels.telegram import conftest as tg_kit
from tests.channels.telegram.conftest import create_bot, update
from tests.channels.whatsapp import conftest as wa_kit
from tests.channels.whatsapp.conftest import create_number, notification, now_stamp
from tests.channels.whatsapp.conftest import deliver as deliver_wa
from tests.conftest import run_jobs
from tests.surveys.helpers import configure, messages, resolve, surveys
from tests.web.test_settings import open_as

twilio = sms_kit.twilio  # the fixtures
graph_api = wa_kit.graph_api
bot_api = tg_kit.bot_api


async def conversation_status(runtime, conversation_id: int) -> str:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.get(Conversation, conversation_id)
        assert found is not None
        return found.status


class TestSmsDigit:
    async def sms_survey(self, client, runtime, cast, twilio, **settings):  # type: ignore[no-untyped-def]
        inbox = await create_sms_inbox(client, runtime, cast, twilio)
        await configure(client, cast, inbox.id, **settings)
        response = await deliver_sms(
            client, inbox, sms_fixture("incoming_sms", Body="Where is my order?")
        )
        assert response.status_code == 200, response.text
        await run_jobs(runtime)
        [first] = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()[
            "items"
        ]
        await resolve(client, runtime, cast, first["id"])
        return inbox, first["id"]

    async def test_the_next_digit_answers_the_survey(self, client, runtime, cast, twilio):
        inbox, conversation = await self.sms_survey(client, runtime, cast, twilio, kind="csat")
        [asked] = [m for m in twilio.sent if "How satisfied" in m["Body"]]
        assert "Reply with a number from 1" in asked["Body"] and asked["To"] == "+971501234567"
        digit = sms_fixture(
            "incoming_sms", Body=" 2 ", MessageSid="SMdigit0001", SmsSid="SMdigit0001"
        )
        assert (await deliver_sms(client, inbox, digit)).status_code == 200
        await run_jobs(runtime)
        [survey] = await surveys(client, cast)
        assert (survey["score"], survey["answered_via"], survey["low"]) == (2, "digit", True)
        # The digit is kept, marked as the answer, in a conversation closed at once.
        rows = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()["items"]
        other = next(r["id"] for r in rows if r["id"] != conversation)
        assert await conversation_status(runtime, other) == "closed"
        [kept] = await messages(client, cast, other)
        assert kept["text"].strip() == "2"
        page = await open_as(client, cast.ada, f"/conversations/{other}")
        assert 'data-testid="fd-survey-answer"' in page and f"#{conversation}" in page
        asked_page = await client.get(f"/conversations/{conversation}")
        assert 'data-testid="fd-survey-asked"' in asked_page.text

    async def test_the_answer_is_never_asked_about_itself(self, client, runtime, cast, twilio):
        inbox, _ = await self.sms_survey(client, runtime, cast, twilio, kind="csat", dedupe_days=0)
        digit = sms_fixture(
            "incoming_sms", Body="4", MessageSid="SMdigit0003", SmsSid="SMdigit0003"
        )
        await deliver_sms(client, inbox, digit)
        await run_jobs(runtime)
        assert len(await surveys(client, cast)) == 1
        assert len([m for m in twilio.sent if "How satisfied" in m["Body"]]) == 1

    async def test_persian_digits_answer_too(self, client, runtime, cast, twilio):
        inbox, _ = await self.sms_survey(client, runtime, cast, twilio, kind="nps")
        digit = sms_fixture(
            "incoming_sms", Body="۹", MessageSid="SMdigit0002", SmsSid="SMdigit0002"
        )
        await deliver_sms(client, inbox, digit)
        await run_jobs(runtime)
        [survey] = await surveys(client, cast)
        assert survey["score"] == 9 and survey["low"] is False

    async def test_text_or_out_of_scale_stays_a_normal_message(self, client, runtime, cast, twilio):
        inbox, _ = await self.sms_survey(client, runtime, cast, twilio, kind="csat")
        for n, body in enumerate(("7", "thanks, all good")):
            sid = f"SMtext000{n}"
            await deliver_sms(
                client, inbox, sms_fixture("incoming_sms", Body=body, MessageSid=sid, SmsSid=sid)
            )
            await run_jobs(runtime)
        [survey] = await surveys(client, cast)
        assert survey["status"] == "sent"
        rows = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()["items"]
        assert any(r["status"] == "open" for r in rows)

    async def test_a_second_digit_does_not_change_the_answer(self, client, runtime, cast, twilio):
        inbox, _ = await self.sms_survey(client, runtime, cast, twilio, kind="csat")
        for n, body in enumerate(("5", "1")):
            sid = f"SMtwice000{n}"
            await deliver_sms(
                client, inbox, sms_fixture("incoming_sms", Body=body, MessageSid=sid, SmsSid=sid)
            )
            await run_jobs(runtime)
        [survey] = await surveys(client, cast)
        assert survey["score"] == 5


class TestWhatsAppList:
    async def test_list_reply_answers(self, client, runtime, cast, graph_api):
        number = await create_number(client, runtime, cast, graph_api)
        await configure(client, cast, number.id, kind="ces")
        said = notification("text", text="My parcel is late", timestamp=now_stamp())
        assert (await deliver_wa(client, number, said)).status_code == 200
        await run_jobs(runtime)
        [row] = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()[
            "items"
        ]
        await resolve(client, runtime, cast, row["id"])
        [sent] = [m for m in graph_api.messages if m.get("type") == "interactive"]
        assert sent["interactive"]["type"] == "list"
        assert "How easy" in sent["interactive"]["body"]["text"]
        rows = sent["interactive"]["action"]["sections"][0]["rows"]
        assert len(rows) == 7 and rows[0]["title"].startswith("1")
        press = notification("list_reply", id="wamid.PRESS1", timestamp=now_stamp())
        press["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["list_reply"] = {
            "id": rows[5]["id"], "title": rows[5]["title"],
        }  # fmt: skip
        customer = said["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"]
        press["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = customer
        press["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = customer
        assert (await deliver_wa(client, number, press)).status_code == 200
        await run_jobs(runtime)
        [survey] = await surveys(client, cast)
        assert (survey["score"], survey["answered_via"]) == (6, "button")

    async def test_nps_has_too_many_choices_for_a_list_and_asks_for_a_digit(
        self, client, runtime, cast, graph_api
    ):
        number = await create_number(client, runtime, cast, graph_api)
        await configure(client, cast, number.id, kind="nps")
        said = notification("text", text="hi", timestamp=now_stamp())
        await deliver_wa(client, number, said)
        await run_jobs(runtime)
        [row] = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()[
            "items"
        ]
        await resolve(client, runtime, cast, row["id"])
        [asked] = [m for m in graph_api.messages if m.get("type") == "text"]
        assert "Reply with a number from 0" in asked["text"]["body"]
        digit = notification("text", text="10", id="wamid.DIGIT1", timestamp=now_stamp())
        await deliver_wa(client, number, digit)
        await run_jobs(runtime)
        [survey] = await surveys(client, cast)
        assert (survey["score"], survey["answered_via"]) == (10, "digit")


class TestTelegramKeyboard:
    async def test_inline_keyboard_press_answers(self, client, runtime, cast, bot_api):
        bot = await create_bot(client, runtime, cast, bot_api)
        await configure(client, cast, bot.id, kind="nps")
        said = update("message_text", text="Hello, my card was charged twice")
        assert (await client.post(bot.hook, json=said, headers=bot.headers)).status_code == 200
        await run_jobs(runtime)
        [row] = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()[
            "items"
        ]
        await resolve(client, runtime, cast, row["id"])
        [asked] = [m for m in bot_api.sent("sendMessage") if "reply_markup" in m]
        keyboard = asked["reply_markup"]["inline_keyboard"]
        buttons = [b for line in keyboard for b in line]
        assert len(buttons) == 11 and all(len(line) <= 6 for line in keyboard)
        press = update("callback_query", update_id=10010)
        press["callback_query"]["data"] = buttons[3]["callback_data"]
        assert (await client.post(bot.hook, json=press, headers=bot.headers)).status_code == 200
        await run_jobs(runtime)
        [survey] = await surveys(client, cast)
        assert (survey["score"], survey["answered_via"], survey["low"]) == (3, "button", True)

    async def test_someone_elses_survey_id_is_ignored(self, client, runtime, cast, bot_api):
        bot = await create_bot(client, runtime, cast, bot_api)
        await configure(client, cast, bot.id, kind="csat")
        await client.post(bot.hook, json=update("message_text", text="hi"), headers=bot.headers)
        await run_jobs(runtime)
        [row] = (await client.get("/api/v1/conversations", headers=cast.ada.headers)).json()[
            "items"
        ]
        await resolve(client, runtime, cast, row["id"])
        [survey] = await surveys(client, cast)
        stranger = update("callback_query", update_id=10011)
        stranger["callback_query"]["from"]["id"] = 2222222
        stranger["callback_query"]["message"]["chat"]["id"] = 2222222
        stranger["callback_query"]["data"] = f"survey:{survey['id']}:1"
        await client.post(bot.hook, json=stranger, headers=bot.headers)
        await run_jobs(runtime)
        assert (await surveys(client, cast))[0]["status"] == "sent"
