"""The bot on a real inbox through the product path: customer messages come in signed, the
bot answers from the knowledge base in a job after commit, asks whether that helped, and hands
off (with what it learned) when it does not know, when asked for a person, or after two
failed answers. It keeps quiet once a person answered, and a job run twice answers once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.bot import service as bot
from frontdesk.bot import tasks as bot_tasks
from frontdesk.conversations.models import Conversation, Message
from frontdesk.kit import uow
from frontdesk.kit.i18n import translator
from frontdesk.routing.models import RoutingTask
from frontdesk.runtime import Runtime
from tests.conftest import Cast, inbound_payload, post_inbound, run_jobs
from tests.routing.test_dispatch import make_policy, make_queue

PASSWORD = {
    "language": "en",
    "title": "Reset your password",
    "body": "Open **Settings**, choose *Security* and press Reset password. A link arrives.",
    "status": "published",
    "questions": ["I forgot my password", "How do I reset my password?", "I can't log in"],
}
PASSWORD_FA = {
    "language": "fa",
    "title": "بازنشانی گذرواژه",
    "body": "به **تنظیمات** بروید، *امنیت* را بزنید و گذرواژه را بازنشانی کنید.",
    "questions": ["گذرواژه‌ام را فراموش کرده‌ام", "چطور گذرواژه را عوض کنم؟"],
}
SHIPPING = {
    "language": "en",
    "title": "Shipping times",
    "body": "Parcels arrive within 3 working days in Europe and 10 elsewhere.",
    "status": "published",
    "questions": ["When will my parcel arrive?", "How long does delivery take?"],
}
UNKNOWN = "Can your company repair a vintage harpsichord?"


async def article(client: httpx.AsyncClient, cast: Cast, body: dict[str, Any]) -> int:
    response = await client.post("/api/v1/kb/articles", json=body, headers=cast.ada.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def enable_bot(client: httpx.AsyncClient, cast: Cast, inbox_id: int, **extra: Any) -> None:
    response = await client.put(
        f"/api/v1/inboxes/{inbox_id}/bot", json={"enabled": True, **extra}, headers=cast.ada.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True


class Customer:
    """Maya writing to the website inbox (API channel), one message at a time."""

    def __init__(self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime) -> None:
        self.client, self.cast, self.runtime = client, cast, runtime
        self.count = 0
        self.conversation_id = 0
        self.customer_id = 0

    async def says(self, text: str, *, run: bool = True) -> list[Message]:
        """Send `text`; the bot's replies to it (after the jobs ran)."""
        self.count += 1
        response = await post_inbound(
            self.client,
            self.cast.website,
            inbound_payload(f"maya-{self.count}", "maya@example.com", text),
        )
        assert response.status_code == 202, response.text
        self.conversation_id = int(response.json()["conversation_id"])
        self.customer_id = int(response.json()["customer_id"])
        before = int(response.json()["message_id"])
        if run:
            await run_jobs(self.runtime)
        return await bot_messages(self.runtime, self.conversation_id, after=before)

    async def handoff(self, cast_member: Any = None) -> httpx.Response:
        who = cast_member or self.cast.alice
        return await self.client.get(
            f"/api/v1/conversations/{self.conversation_id}/handoff", headers=who.headers
        )


async def bot_messages(runtime: Runtime, conversation_id: int, *, after: int = 0) -> list[Message]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.author_kind == "bot",
                Message.id > after,
            )
            .order_by(Message.id)
        )
        found = list(rows)
        await session.commit()
    return found


class TestAnswers:
    async def test_answers_with_the_article_and_asks_whether_it_helped(self, client, cast, maya):
        password = await article(client, cast, PASSWORD)
        await article(client, cast, SHIPPING)
        [reply] = await maya.says("I forgot my password, what do I do?")
        assert reply.text.startswith("Reset your password")
        assert "press Reset password" in reply.text
        assert reply.text.endswith(bot.ASK_BY_TEXT)  # no buttons outside the chat widget
        assert reply.meta["kb_article_id"] == password
        assert reply.direction == "outbound" and reply.author_agent_id is None
        context = (await maya.handoff()).json()
        assert context["status"] == "active"
        assert context["articles"] == [
            {"article_id": password, "language": "en", "title": PASSWORD["title"], "verdict": None}
        ]

    async def test_answers_in_the_customers_language_when_a_translation_exists(
        self, client, cast, maya
    ):
        password = await article(client, cast, PASSWORD)
        response = await client.post(
            f"/api/v1/kb/articles/{password}/translations", json=PASSWORD_FA,
            headers=cast.ada.headers,
        )  # fmt: skip
        assert response.status_code == 201
        [reply] = await maya.says("گذرواژه‌ام را فراموش کرده‌ام")
        assert reply.text.startswith("بازنشانی گذرواژه")
        assert reply.text.endswith(translator("fa")(bot.ASK_BY_TEXT))
        assert translator("fa")(bot.ASK_BY_TEXT) != bot.ASK_BY_TEXT
        assert reply.meta["kb_language"] == "fa"

    async def test_a_yes_closes_the_question_and_counts_as_helpful_feedback(
        self, client, cast, maya
    ):
        password = await article(client, cast, PASSWORD)
        await maya.says("I forgot my password")
        [reply] = await maya.says("yes, thanks")
        assert reply.text == bot.GLAD
        context = (await maya.handoff()).json()
        assert context["articles"][0]["verdict"] == "helpful"
        assert context["status"] == "active"
        feedback = await client.get(
            f"/api/v1/kb/articles/{password}/feedback", headers=cast.alice.headers
        )
        assert feedback.json() == [{"language": "en", "helpful": 1, "not_helpful": 0}]

    async def test_a_stray_yes_with_no_question_open_is_no_hand_off(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        await maya.says("I forgot my password")
        await maya.says("yes")
        assert await maya.says("Yes") == []  # a second press of an old button
        assert (await maya.handoff()).json()["status"] == "active"

    async def test_an_inbox_without_the_bot_gets_no_answer(self, client, cast, runtime):
        await article(client, cast, PASSWORD)
        await enable_bot(client, cast, cast.app.id)  # the other inbox
        maya = Customer(client, cast, runtime)
        assert await maya.says("I forgot my password") == []
        assert (await maya.handoff()).status_code == 404


class TestHandOff:
    async def test_an_unknown_question_is_handed_off_honestly(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        [reply] = await maya.says(UNKNOWN)
        assert reply.text == bot.HANDOFF_TEXT["low_confidence"]
        response = await maya.handoff()
        assert response.status_code == 200
        context = response.json()
        assert context["status"] == "handed_off"
        assert context["reason"] == "low_confidence"
        assert context["language"] == "en"
        assert context["words"] == [UNKNOWN]
        [tried] = context["intents"]
        assert tried["text"] == UNKNOWN and tried["answered"] is False
        assert 0 <= tried["confidence"] < 0.32
        conversation = await client.get(
            f"/api/v1/conversations/{maya.conversation_id}", headers=cast.alice.headers
        )
        assert conversation.json()["assignee_id"] is None
        assert conversation.json()["status"] == "open"
        # Handed off: the bot answers nothing more, even a question it knows.
        assert await maya.says("I forgot my password") == []

    @pytest.mark.parametrize(
        ("text", "language"),
        [
            ("I want to talk to a human please", "en"),
            ("أريد التحدث مع موظف", "ar"),
            ("می‌خواهم با یک اپراتور صحبت کنم", "fa"),
            ("ميخواهم با كارشناس صحبت كنم", "fa"),  # Arabic ya and kaf, no ZWNJ
        ],
    )
    async def test_asking_for_a_person_hands_off(self, client, cast, maya, text, language):
        await article(client, cast, PASSWORD)
        [reply] = await maya.says(text)
        assert reply.text == translator(language)(bot.HANDOFF_TEXT["asked_for_person"])
        context = (await maya.handoff()).json()
        assert (context["reason"], context["language"]) == ("asked_for_person", language)

    async def test_two_failed_answers_hand_off_with_every_verdict(self, client, cast, maya):
        password = await article(client, cast, PASSWORD)
        shipping = await article(client, cast, SHIPPING)
        await maya.says("I forgot my password")
        [retry] = await maya.says("no")
        assert retry.text == bot.RETRY
        [answer] = await maya.says("How long does delivery take?")
        assert answer.meta["kb_article_id"] == shipping
        [last] = await maya.says("No, it didn't help")
        assert last.text == bot.HANDOFF_TEXT["failed_answers"]
        context = (await maya.handoff()).json()
        assert context["reason"] == "failed_answers"
        assert [(a["article_id"], a["verdict"]) for a in context["articles"]] == [
            (password, "not_helpful"),
            (shipping, "not_helpful"),
        ]
        assert context["words"] == [
            "I forgot my password", "no", "How long does delivery take?", "No, it didn't help"
        ]  # fmt: skip

    async def test_persian_no_counts_as_a_failure(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        await maya.says("I forgot my password")
        [retry] = await maya.says("نه، کمک نکرد")
        assert retry.text == translator("fa")(bot.RETRY)

    async def test_a_message_with_only_an_attachment_goes_to_a_person(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        payload = inbound_payload("maya-photo", "maya@example.com", "")
        payload["attachments"] = [
            {"filename": "receipt.png", "content_type": "image/png", "data_base64": "iVBORw0KGgo="}
        ]
        response = await post_inbound(client, cast.website, payload)
        assert response.status_code == 202, response.text
        maya.conversation_id = int(response.json()["conversation_id"])
        await run_jobs(maya.runtime)
        [reply] = await bot_messages(maya.runtime, maya.conversation_id)
        assert reply.text == bot.HANDOFF_TEXT["no_text"]
        context = (await maya.handoff()).json()
        assert context["reason"] == "no_text"
        assert context["words"] == []  # no empty line among the customer's words

    async def test_a_call_record_is_not_a_question(self, client, cast, maya, runtime):
        await article(client, cast, PASSWORD)
        [answer] = await maya.says("I forgot my password")
        async with runtime.db.session() as session:
            conversation = await session.get(Conversation, maya.conversation_id)
            assert conversation is not None
            call = Message(
                conversation_id=conversation.id, inbox_id=conversation.inbox_id,
                customer_id=conversation.customer_id, channel="api", direction="inbound",
                author_kind="customer", kind="call", text="", meta={"call": {"status": "ended"}},
                delivery_status="received",
            )  # fmt: skip
            session.add(call)
            await uow.commit(session)
        # Neither the job's filter nor the dialogue takes a call for a question.
        assert not bot_tasks._customer_wrote(
            {"payload": {"direction": "inbound", "author_kind": "customer", "kind": "call"}}
        )
        async with runtime.db.session() as session:
            await bot.on_customer_message(
                session, conversation_id=maya.conversation_id, message_id=call.id
            )
            await uow.commit(session)
        assert [m.id for m in await bot_messages(runtime, maya.conversation_id)] == [answer.id]
        assert (await maya.handoff()).json()["status"] == "active"  # not handed off


class TestQuietAfterAPerson:
    async def test_no_bot_reply_once_an_agent_replied(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        await maya.says("hello there", run=False)
        response = await client.post(
            f"/api/v1/conversations/{maya.conversation_id}/messages",
            json={"text": "Hi, Alice here."}, headers=cast.alice.headers,
        )  # fmt: skip
        assert response.status_code == 201, response.text
        await run_jobs(maya.runtime)
        assert await maya.says("I forgot my password") == []
        assert await bot_messages(maya.runtime, maya.conversation_id) == []
        assert (await maya.handoff()).json()["status"] == "stopped"

    async def test_an_agent_reply_after_the_bot_silences_it(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        assert len(await maya.says("I forgot my password")) == 1
        response = await client.post(
            f"/api/v1/conversations/{maya.conversation_id}/messages",
            json={"text": "Let me help."}, headers=cast.alice.headers,
        )  # fmt: skip
        assert response.status_code == 201
        assert await maya.says("How do I reset my password?") == []


class TestIdempotence:
    async def test_the_same_message_is_answered_once(self, client, cast, maya, runtime):
        await article(client, cast, PASSWORD)
        await maya.says("I forgot my password", run=False)
        async with runtime.db.session() as session:
            message_id = await session.scalar(
                select(Message.id).where(Message.conversation_id == maya.conversation_id)
            )
            await session.commit()
        assert message_id is not None
        await run_jobs(runtime)
        for _ in range(2):  # the job again (a retry after a lost completion)
            async with runtime.db.session() as session:
                await bot.on_customer_message(
                    session, conversation_id=maya.conversation_id, message_id=message_id
                )
                await uow.commit(session)
        assert len(await bot_messages(runtime, maya.conversation_id)) == 1


class TestRouting:
    async def test_routing_waits_for_the_hand_off(self, client, cast, maya, runtime):
        await article(client, cast, PASSWORD)
        queue = await make_queue(client, cast, "Front", "true")
        await make_policy(client, cast, {"queue_id": queue})
        await maya.says("I forgot my password")
        async with runtime.db.session() as session:
            assert (await session.scalars(select(RoutingTask))).all() == []
            await session.commit()
        await maya.says("I want a human")
        async with runtime.db.session() as session:
            [task] = (await session.scalars(select(RoutingTask))).all()
            await session.commit()
        assert task.conversation_id == maya.conversation_id


class TestMerge:
    async def test_the_context_follows_a_merged_customer(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        await maya.says(UNKNOWN)
        other = await post_inbound(
            client, cast.website, inbound_payload("m-other", "maya.work@example.com", "hi")
        )
        keep = int(other.json()["customer_id"])
        merged = await client.post(
            f"/api/v1/customers/{keep}/merge", json={"other_id": maya.customer_id},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert merged.status_code == 200, merged.text
        assert (await maya.handoff()).json()["reason"] == "low_confidence"
        found = await client.get(
            f"/api/v1/conversations/{maya.conversation_id}/suggestions", headers=cast.alice.headers
        )
        assert found.status_code == 200


class TestAccess:
    async def test_another_teams_agent_cannot_read_the_context(self, client, cast, maya):
        await article(client, cast, PASSWORD)
        await maya.says(UNKNOWN)
        assert (await maya.handoff(cast.bob)).status_code == 404
        suggestions = await client.get(
            f"/api/v1/conversations/{maya.conversation_id}/suggestions", headers=cast.bob.headers
        )
        assert suggestions.status_code == 404

    async def test_bot_settings_are_for_admins_and_checked(self, client, cast):
        url = f"/api/v1/inboxes/{cast.website.id}/bot"
        assert (await client.get(url, headers=cast.alice.headers)).status_code == 403
        answer = await client.get(url, headers=cast.ada.headers)
        assert answer.json()["enabled"] is False
        bad = await client.put(
            url, json={"enabled": True, "threshold": 2}, headers=cast.ada.headers
        )
        assert bad.status_code == 422
        extra = await client.put(url, json={"enabled": True, "x": 1}, headers=cast.ada.headers)
        assert extra.status_code == 422
        missing = await client.put(
            "/api/v1/inboxes/99999/bot", json={"enabled": True}, headers=cast.ada.headers
        )
        assert missing.status_code == 404
