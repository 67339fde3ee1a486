"""The webhook: Telegram's secret header, exactly-once storage, media, edits, languages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select

from frontdesk.conversations.models import Attachment, Message
from frontdesk.customers.models import Identity
from frontdesk.kit.blobs import BlobStore
from tests.channels.telegram.conftest import TOKEN, Bot, update


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def deliver(client, bot: Bot, payload: dict[str, Any] | bytes, **headers: str):  # type: ignore[no-untyped-def]
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post(bot.hook, content=body, headers={**bot.headers, **headers})


async def messages_of(client, cast, conversation_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=cast.ada.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def only_message(runtime) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        [message] = (await session.scalars(select(Message))).all()
        return message


class TestSecretToken:
    async def test_wrong_secret_is_refused_and_nothing_stored(self, client, bot, runtime):
        response = await deliver(
            client, bot, update("message_text"), **{"X-Telegram-Bot-Api-Secret-Token": "x" * 43}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_signature"
        assert await count(runtime, Message) == 0

    async def test_missing_secret_is_refused_and_nothing_stored(self, client, bot, runtime):
        body = json.dumps(update("message_text")).encode()
        response = await client.post(bot.hook, content=body)
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_another_inboxs_secret_is_refused(self, client, bot, runtime, cast, bot_api):
        from tests.channels.telegram.conftest import create_bot

        other = await create_bot(client, runtime, cast, bot_api)
        response = await deliver(
            client, bot, update("message_text"),
            **{"X-Telegram-Bot-Api-Secret-Token": other.secret_token},
        )  # fmt: skip
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_unknown_inbox_is_404(self, client, bot, runtime):
        body = json.dumps(update("message_text")).encode()
        response = await client.post("/webhooks/telegram/9999", content=body, headers=bot.headers)
        assert response.status_code == 404
        assert await count(runtime, Message) == 0

    async def test_the_shared_inbound_route_refuses_telegram_inboxes(self, client, bot, runtime):
        # Telegram's header is its credential; the shared route's HMAC is not accepted.
        response = await client.post(
            f"/api/v1/inboxes/{bot.id}/inbound",
            content=json.dumps(update("message_text")).encode(),
            headers={"X-Frontdesk-Signature": "sha256=00"},
        )
        assert response.status_code == 401
        assert await count(runtime, Message) == 0


class TestStoring:
    async def test_text_message_is_stored_with_a_telegram_identity(
        self, client, bot, runtime, cast
    ):
        response = await deliver(client, bot, update("message_text", text="Hello, my order?"))
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "stored"
        message = await only_message(runtime)
        assert message.text == "Hello, my order?"
        assert message.external_id == message.provider_message_id == "1111111:1365"
        async with runtime.db.session() as session:
            identity = await session.get(Identity, message.identity_id)
            assert identity is not None
            assert (identity.kind, identity.address) == ("telegram", "1111111")
        customer = (
            await client.get(f"/api/v1/customers/{message.customer_id}", headers=cast.ada.headers)
        ).json()
        assert customer["name"] == "Test Firstname Test Lastname"
        [read] = await messages_of(client, cast, message.conversation_id)
        assert read["provider_message_id"] == "1111111:1365"
        assert read["edited"] is False

    async def test_same_update_delivered_three_times_concurrently_is_stored_once(
        self, client, bot, runtime
    ):
        payload = update("message_text", text="once please")
        responses = await asyncio.gather(*(deliver(client, bot, payload) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        outcomes = sorted(r.json()["outcome"] for r in responses)
        assert outcomes == ["duplicate", "duplicate", "stored"]
        assert await count(runtime, Message) == 1

    async def test_a_repeat_with_a_new_update_id_is_the_same_message(self, client, bot, runtime):
        # Webhook then polling (or a re-set webhook) may number one message twice.
        await deliver(client, bot, update("message_text", update_id=1))
        response = await deliver(client, bot, update("message_text", update_id=2))
        assert response.json()["outcome"] == "duplicate"
        assert await count(runtime, Message) == 1

    async def test_arabic_and_persian_text_round_trip(self, client, bot, runtime, cast, bot_api):
        arabic = "مرحباً، أين طلبي؟ رقم ١٢٣"
        persian = "سلام، سفارش من کجاست؟ شماره ۱۲۳ — ممنون"
        await deliver(client, bot, update("message_text", message_id=1, text=arabic))
        await deliver(client, bot, update("message_text", message_id=2, text=persian))
        async with runtime.db.session() as session:
            texts = (await session.scalars(select(Message.text).order_by(Message.id))).all()
            conversation_id = (await session.scalars(select(Message.conversation_id))).first()
        assert list(texts) == [arabic, persian]
        reply = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": persian},
            headers=cast.ada.headers,
        )
        assert reply.status_code == 201, reply.text
        from tests.conftest import run_jobs

        await run_jobs(runtime)
        [sent] = bot_api.sent("sendMessage")
        assert sent == {"chat_id": "1111111", "text": persian}

    async def test_photo_is_downloaded_through_get_file(self, client, bot, runtime, bot_api):
        jpeg = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 100
        bot_api.files["AgADBAADr6cxG_large"] = ("photos/file_7.jpg", jpeg)
        response = await deliver(client, bot, update("message_photo"))
        assert response.status_code == 200, response.text
        message = await only_message(runtime)
        assert message.text == "my receipt"
        async with runtime.db.session() as session:
            [attachment] = (await session.scalars(select(Attachment))).all()
        assert attachment.content_type == "image/jpeg" and attachment.size == len(jpeg)
        assert BlobStore(runtime.settings.blob_dir).get(attachment.blob_key) == jpeg
        # The largest size is fetched, with the bot token; never a wrong one.
        assert bot_api.sent("getFile") == [{"file_id": "AgADBAADr6cxG_large"}]
        assert bot_api.bad_tokens == 0

    async def test_document_keeps_its_name_and_type(self, client, bot, runtime, bot_api):
        pdf = b"%PDF-1.4 invoice"
        bot_api.files["BQADBAADBgADmEjsA1aqdSxtzvvVAg"] = ("documents/file_9.pdf", pdf)
        await deliver(client, bot, update("message_document"))
        async with runtime.db.session() as session:
            [attachment] = (await session.scalars(select(Attachment))).all()
        assert (attachment.filename, attachment.content_type) == ("invoice.pdf", "application/pdf")
        assert BlobStore(runtime.settings.blob_dir).get(attachment.blob_key) == pdf

    async def test_a_file_telegram_refuses_is_noted_not_fatal(self, client, bot, runtime):
        # getFile answers 400 (unknown file, or over the Bot API's 20 MB): the caption is kept.
        await deliver(client, bot, update("message_photo"))
        message = await only_message(runtime)
        assert message.text == "my receipt"
        assert message.meta["missing_files"] == ["photo-1366.jpg"]
        assert await count(runtime, Attachment) == 0

    async def test_a_button_press_arrives_as_a_message(self, client, bot, runtime):
        response = await deliver(client, bot, update("callback_query"))
        assert response.json()["outcome"] == "stored"
        message = await only_message(runtime)
        assert message.text == "yes"
        assert message.external_id == "callback:4382bfdwdsb323b2d9"

    async def test_a_button_press_is_answered_once_stored(self, client, bot, runtime, bot_api):
        from tests.conftest import run_jobs

        await deliver(client, bot, update("callback_query"))
        await deliver(client, bot, update("message_text", text="and a plain message"))
        await run_jobs(runtime)
        # Only the press is answered (Telegram's spinner on the button stops), once.
        assert bot_api.sent("answerCallbackQuery") == [{"callback_query_id": "4382bfdwdsb323b2d9"}]

    async def test_a_press_too_old_to_answer_is_still_stored(self, client, bot, runtime, bot_api):
        from tests.conftest import run_jobs

        bot_api.fail("answerCallbackQuery", 400, "Bad Request: query is too old")
        await deliver(client, bot, update("callback_query"))
        await run_jobs(runtime)
        assert len(bot_api.sent("answerCallbackQuery")) == 1  # tried once, not retried for ever
        assert (await only_message(runtime)).text == "yes"


class TestEdits:
    async def test_edit_is_shown_as_edited_and_the_original_kept(self, client, bot, runtime, cast):
        await deliver(client, bot, update("message_text", text="I ordered 2 boxes"))
        edit = update("edited_message", text="I ordered 3 boxes")
        responses = [await deliver(client, bot, edit) for _ in range(2)]  # Telegram retried
        assert [r.json()["outcome"] for r in responses] == ["edited", "edited"]
        message = await only_message(runtime)
        [read] = await messages_of(client, cast, message.conversation_id)
        assert read["text"] == "I ordered 3 boxes"
        assert read["edited"] is True
        assert [v["text"] for v in read["versions"]] == ["I ordered 2 boxes", "I ordered 3 boxes"]
        assert await count(runtime, Message) == 1

    async def test_an_edit_delivered_three_times_concurrently_is_one_version(
        self, client, bot, runtime
    ):
        await deliver(client, bot, update("message_text", text="before"))
        edit = update("edited_message", text="after")
        responses = await asyncio.gather(*(deliver(client, bot, edit) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        message = await only_message(runtime)
        assert [v["text"] for v in message.meta["versions"]] == ["before", "after"]

    async def test_edit_before_its_original_is_applied_when_it_arrives(
        self, client, bot, runtime, cast
    ):
        await deliver(client, bot, update("edited_message", text="corrected"))
        assert await count(runtime, Message) == 0
        await deliver(client, bot, update("message_text", text="original"))
        message = await only_message(runtime)
        assert message.text == "corrected"
        assert [v["text"] for v in message.meta["versions"]] == ["original", "corrected"]

    async def test_edit_event_reaches_the_desktop(self, client, bot, runtime, cast):
        await deliver(client, bot, update("message_text", text="v1"))
        await deliver(client, bot, update("edited_message", text="v2"))
        async with runtime.db.session() as session:
            from frontdesk.kit.events import Event

            events = (await session.scalars(select(Event).order_by(Event.sequence))).all()
        updated = [e for e in events if e.type == "message.updated"]
        assert updated and updated[-1].payload["text"] == "v2"
        assert updated[-1].payload["edited"] is True

    async def test_the_desktop_shows_the_edit_and_the_original(self, client, bot, runtime, cast):
        from tests.web.test_views import log_in

        await deliver(client, bot, update("message_text", text="original words"))
        await deliver(client, bot, update("edited_message", text="corrected words"))
        message = await only_message(runtime)
        await log_in(client, cast.alice)
        page = (await client.get(f"/conversations/{message.conversation_id}")).text
        assert 'data-testid="fd-message-versions"' in page
        assert "corrected words" in page and "original words" in page
        assert ">edited</summary>" in page


class TestMalformed:
    async def test_invalid_json_is_400_and_nothing_stored(self, client, bot, runtime):
        response = await deliver(client, bot, b"{not json")
        assert response.status_code == 400
        assert await count(runtime, Message) == 0

    async def test_update_without_update_id_is_422(self, client, bot, runtime):
        response = await deliver(client, bot, {"message": {"text": "x"}})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_payload"
        assert await count(runtime, Message) == 0

    async def test_message_without_chat_is_422(self, client, bot, runtime):
        payload = update("message_text")
        del payload["message"]["chat"]
        response = await deliver(client, bot, payload)
        assert response.status_code == 422
        assert await count(runtime, Message) == 0

    async def test_other_update_kinds_are_acknowledged_and_ignored(self, client, bot, runtime):
        payload = {"update_id": 5, "my_chat_member": {"chat": {"id": 1}}}
        response = await deliver(client, bot, payload)
        assert response.status_code == 200 and response.json()["outcome"] == "ignored"
        assert await count(runtime, Message) == 0

    async def test_unsupported_kind_is_shown_as_its_kind(self, client, bot, runtime):
        payload = update("message_text")
        del payload["message"]["text"]
        payload["message"]["sticker"] = {"file_id": "s1", "width": 1, "height": 1}
        assert (await deliver(client, bot, payload)).status_code == 200
        assert (await only_message(runtime)).text == "[sticker]"


class TestInboxSettings:
    async def test_secrets_are_not_returned_and_are_sealed_in_the_row(
        self, client, bot: Bot, runtime, cast, db_url
    ):
        body = (await client.get(f"/api/v1/inboxes/{bot.id}", headers=cast.ada.headers)).json()
        assert body["settings"]["bot_token"] == "********"
        assert body["settings"]["secret_token"] == "********"
        assert TOKEN not in json.dumps(body) and bot.secret_token not in json.dumps(body)
        # The raw row, as the database holds it.
        async with runtime.db.session() as session:
            from sqlalchemy import text

            raw = (
                await session.execute(
                    text("SELECT settings FROM inboxes WHERE id = :id"), {"id": bot.id}
                )
            ).scalar_one()
        raw_text = raw if isinstance(raw, str) else json.dumps(raw)
        assert TOKEN not in raw_text and bot.secret_token not in raw_text
        assert "fdenc1:" in raw_text

    async def test_webhook_url_is_absolute_under_base_url(self, client, bot, cast, runtime):
        body = (await client.get(f"/api/v1/inboxes/{bot.id}", headers=cast.ada.headers)).json()
        assert body["webhook_url"] == f"{runtime.settings.base_url}/webhooks/telegram/{bot.id}"

    async def test_polling_inbox_has_no_webhook_url(self, client, runtime, cast, bot_api):
        from tests.channels.telegram.conftest import create_bot

        polling = await create_bot(client, runtime, cast, bot_api, mode="polling")
        body = (await client.get(f"/api/v1/inboxes/{polling.id}", headers=cast.ada.headers)).json()
        assert body["webhook_url"] is None

    async def test_patch_without_the_secret_keeps_it(self, client, bot, cast, bot_api):
        response = await client.patch(
            f"/api/v1/inboxes/{bot.id}",
            json={"settings": {"mode": "webhook", "bot_token": "********"}},
            headers=cast.ada.headers,
        )
        assert response.status_code == 200, response.text
        # The kept secret still verifies webhooks, and the kept token still reaches the API.
        assert (await deliver(client, bot, update("message_text"))).status_code == 200

    async def test_admin_registers_the_webhook_with_telegram(self, client, bot, cast, bot_api):
        response = await client.post(
            f"/api/v1/inboxes/{bot.id}/telegram/webhook", headers=cast.ada.headers
        )
        assert response.status_code == 200, response.text
        assert bot_api.webhook is not None
        assert bot_api.webhook["url"] == response.json()["webhook_url"]
        assert bot_api.webhook["url"].endswith(f"/webhooks/telegram/{bot.id}")
        assert bot_api.webhook["secret_token"] == bot.secret_token
        assert bot_api.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
        agent = await client.post(
            f"/api/v1/inboxes/{bot.id}/telegram/webhook", headers=cast.alice.headers
        )
        assert agent.status_code == 403

    async def test_a_token_telegram_refuses_is_reported(self, client, bot, cast, bot_api):
        bot_api.fail("setWebhook", 401, "Unauthorized")
        response = await client.post(
            f"/api/v1/inboxes/{bot.id}/telegram/webhook", headers=cast.ada.headers
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "provider_refused"

    async def test_a_bad_token_is_refused(self, client, cast, bot_api):
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "telegram", "name": "X", "settings": {"bot_token": "nope"}},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_settings"

    async def test_private_api_base_url_is_refused_in_production(self, client, cast, runtime):
        runtime.settings.allow_private_webhooks = False
        response = await client.post(
            "/api/v1/inboxes",
            json={
                "channel": "telegram",
                "name": "X",
                "settings": {"bot_token": TOKEN, "api_base_url": "http://127.0.0.1:9/"},
            },
            headers=cast.ada.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "forbidden_url"

    async def test_channel_list_marks_the_secrets_write_only(self, client, cast):
        channels = (await client.get("/api/v1/channels", headers=cast.ada.headers)).json()
        telegram = next(c for c in channels if c["name"] == "telegram")
        props = telegram["settings_schema"]["properties"]
        assert props["bot_token"]["writeOnly"] is True
        assert props["secret_token"]["writeOnly"] is True
        assert telegram["capabilities"]["edits"] is True


POISON: list[bytes] = [
    b"",
    b"null",
    b"[]",
    b'"update"',
    b"\xff\xfe\x00garbage",
    b'{"update_id": "ten"}',
    b'{"update_id": -1}',
    b'{"update_id": 1e400}',
    b'{"update_id": 99999999999999999999999999}',
    b'{"update_id": 1, "message": null, "edited_message": []}',
    b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 1e30}}',
    b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 99999999999999}}',
    b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1e300}, "date": 1}}',
    b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": 1, "photo": {}}}',
    b'{"update_id": 1, "edited_message": {"message_id": 1, "chat": {"id": 1}, "date": -5}}',
    b'{"update_id": 1, "callback_query": {"id": "", "from": {"id": 1}}}',
    b'{"update_id": 1, "callback_query": {"id": "x", "from": {"id": "me"}}}',
]


class TestPoison:
    async def test_malformed_updates_are_refused_never_500_and_nothing_stored(
        self, client, bot, runtime
    ):
        for body in POISON:
            response = await deliver(client, bot, body)
            assert response.status_code in (400, 422), (body, response.status_code, response.text)
            assert "error" in response.json()
        assert await count(runtime, Message) == 0

    async def test_nul_characters_are_dropped_not_fatal(self, client, bot, runtime):
        payload = update("message_text", text="hello\x00 there")
        payload["message"]["chat"]["type"] = "private\x00"
        payload["message"]["from"]["first_name"] = "Na\x00me"
        response = await deliver(client, bot, payload)
        assert response.status_code == 200, response.text
        message = await only_message(runtime)
        assert message.text == "hello there"
        assert message.meta["telegram"]["chat_type"] == "private"

    def test_parse_inbound_refuses_what_carries_no_message(self, bot, runtime):
        from frontdesk.channels.telegram.adapter import telegram_channel
        from frontdesk.inboxes.models import Inbox
        from frontdesk.kit.errors import FrontdeskError

        inbox = Inbox(id=bot.id, name="Bot", channel="telegram", settings={}, secret="s")
        for body in [*POISON, json.dumps(update("edited_message")).encode()]:
            try:
                telegram_channel.parse_inbound(inbox, body, runtime.settings)
            except FrontdeskError as exc:
                assert exc.status in (400, 422)
            else:
                raise AssertionError(f"accepted {body!r}")


class TestSecretKeyRotation:
    async def test_a_secret_sealed_under_an_old_key_can_be_re_entered(
        self, client, bot, cast, runtime
    ):
        runtime.settings.secret_key = "a-new-secret-key-after-rotation"
        # Without the token the stored one cannot be opened: refused as missing, not a 500.
        kept = await client.patch(
            f"/api/v1/inboxes/{bot.id}", json={"settings": {}}, headers=cast.ada.headers
        )
        assert kept.status_code == 422, kept.text
        response = await client.patch(
            f"/api/v1/inboxes/{bot.id}",
            json={"settings": {"bot_token": TOKEN, "secret_token": "s" * 32}},
            headers=cast.ada.headers,
        )
        assert response.status_code == 200, response.text
        body = json.dumps(update("message_text")).encode()
        answer = await client.post(
            bot.hook,
            content=body,
            headers={"X-Telegram-Bot-Api-Secret-Token": "s" * 32},
        )
        assert answer.status_code == 200, answer.text
