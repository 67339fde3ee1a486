"""The webhook: Meta's handshake and signature, exactly-once storage of every message kind,
statuses (also before their message), media by id, one customer per phone, languages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select

from frontdesk.conversations.models import Attachment, Message, PendingProviderUpdate
from frontdesk.customers.models import Identity
from frontdesk.kit.blobs import BlobStore
from tests.channels.whatsapp.conftest import deliver, notification, sign
from tests.conftest import run_jobs

WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def only_message(runtime) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        [message] = (await session.scalars(select(Message))).all()
        return message


async def messages_of(client, cast, conversation_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=cast.ada.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


class TestVerification:
    async def test_subscribe_with_the_verify_token_echoes_the_challenge(self, client, number):
        params = {"hub.mode": "subscribe", "hub.verify_token": number.verify_token,
                  "hub.challenge": "1158201444"}  # fmt: skip
        response = await client.get(number.hook, params=params)
        assert response.status_code == 200
        assert response.text == "1158201444"

    async def test_a_wrong_verify_token_is_403(self, client, number):
        params = {"hub.mode": "subscribe", "hub.verify_token": "wrong-token-x",
                  "hub.challenge": "1158201444"}  # fmt: skip
        response = await client.get(number.hook, params=params)
        assert response.status_code == 403
        assert "1158201444" not in response.text

    async def test_another_mode_is_403(self, client, number):
        params = {"hub.mode": "unsubscribe", "hub.verify_token": number.verify_token,
                  "hub.challenge": "1"}  # fmt: skip
        assert (await client.get(number.hook, params=params)).status_code == 403

    async def test_the_inbox_read_shows_webhook_url_and_verify_token(self, client, number, cast):
        read = (await client.get(f"/api/v1/inboxes/{number.id}", headers=cast.ada.headers)).json()
        assert read["webhook_url"].endswith(f"/webhooks/whatsapp/{number.id}")
        assert read["settings"]["verify_token"] == number.verify_token
        assert read["settings"]["access_token"] == "********"
        assert read["settings"]["app_secret"] == "********"


class TestSignature:
    async def test_wrong_signature_is_refused_and_nothing_stored(self, client, number, runtime):
        body = json.dumps(notification("text")).encode()
        response = await deliver(
            client, number, body, **{"X-Hub-Signature-256": sign(body, "another-app-secret")}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_signature"
        assert await count(runtime, Message) == 0

    async def test_missing_signature_is_refused_and_nothing_stored(self, client, number, runtime):
        body = json.dumps(notification("text")).encode()
        response = await client.post(number.hook, content=body)
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_a_signature_over_another_body_is_refused(self, client, number, runtime):
        body = json.dumps(notification("text")).encode()
        other = json.dumps(notification("text", text="tampered")).encode()
        response = await deliver(client, number, other, **{"X-Hub-Signature-256": sign(body)})
        assert response.status_code == 401
        assert await count(runtime, Message) == 0

    async def test_a_status_with_a_bad_signature_changes_nothing(self, client, number, runtime):
        body = json.dumps(notification("status_read")).encode()
        response = await deliver(client, number, body, **{"X-Hub-Signature-256": "sha256=00"})
        assert response.status_code == 401
        assert await count(runtime, PendingProviderUpdate) == 0


class TestMalformed:
    async def test_not_json_is_400_and_nothing_stored(self, client, number, runtime):
        response = await deliver(client, number, b"{not json")
        assert response.status_code == 400
        assert await count(runtime, Message) == 0

    async def test_a_message_without_id_is_422_and_nothing_stored(self, client, number, runtime):
        payload = notification("text")
        del payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        response = await deliver(client, number, payload)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_payload"
        assert await count(runtime, Message) == 0

    async def test_another_object_is_422(self, client, number, runtime):
        payload = {**notification("text"), "object": "page"}
        assert (await deliver(client, number, payload)).status_code == 422
        assert await count(runtime, Message) == 0

    async def test_a_bad_sender_number_is_422_never_500(self, client, number, runtime):
        response = await deliver(client, number, notification("text", sender="12"))
        assert response.status_code == 422
        assert await count(runtime, Message) == 0


class TestStoring:
    async def test_text_is_stored_on_a_shared_phone_identity_with_the_profile_name(
        self, client, number, runtime, cast
    ):
        response = await deliver(client, number, notification("text"))
        assert response.status_code == 200, response.text
        assert response.json()["stored"] == 1
        message = await only_message(runtime)
        assert message.text == "Does it come in another color?"
        assert message.external_id == message.provider_message_id == WAMID
        async with runtime.db.session() as session:
            identity = await session.get(Identity, message.identity_id)
            assert identity is not None
            assert (identity.kind, identity.address) == ("phone", "+16505551234")
        customer = (
            await client.get(f"/api/v1/customers/{message.customer_id}", headers=cast.ada.headers)
        ).json()
        assert customer["name"] == "Sheena Nelson"

    async def test_the_same_phone_on_another_channel_is_one_customer(
        self, client, number, runtime, cast
    ):
        # The API channel stands in for SMS here: a "+1 650-555-1234" address is the phone
        # identity WhatsApp's wa_id 16505551234 resolves to.
        from tests.conftest import inbound_payload, post_inbound

        first = await post_inbound(
            client, cast.website, inbound_payload("sms-1", "+1 650-555-1234", "by SMS")
        )
        assert first.status_code == 202, first.text
        await deliver(client, number, notification("text"))
        async with runtime.db.session() as session:
            customers = set((await session.scalars(select(Message.customer_id))).all())
        assert customers == {first.json()["customer_id"]}

    async def test_same_notification_delivered_three_times_concurrently_is_stored_once(
        self, client, number, runtime
    ):
        payload = notification("text", text="once please")
        responses = await asyncio.gather(*(deliver(client, number, payload) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert sorted(r.json()["stored"] for r in responses) == [0, 0, 1]
        assert await count(runtime, Message) == 1

    async def test_arabic_and_persian_text_round_trip(
        self, client, number, runtime, cast, graph_api
    ):
        arabic = "مرحباً، أين طلبي؟ رقم ١٢٣"
        persian = "سلام، سفارش من کجاست؟ شماره ۱۲۳ — ممنون"
        await deliver(
            client, number, notification("text", id="wamid.A1", text=arabic, timestamp=_now())
        )
        await deliver(
            client, number, notification("text", id="wamid.A2", text=persian, timestamp=_now())
        )
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
        await run_jobs(runtime)
        [sent] = graph_api.sent("text")
        assert sent["text"]["body"] == persian
        assert sent["to"] == "16505551234"

    async def test_location_contacts_and_replies_become_readable_text(
        self, client, number, runtime
    ):
        cases = {
            "location": "Main Street Beach · 1 Hacker Way, Menlo Park, CA 94025\n"
            "https://maps.google.com/?q=37.483253479003906,-122.14960479736328",
            "contacts": "Barbara J. Johnson +1 (940) 555-1234",
            "button_reply": "Change",
            "list_reply": "Express Shipping",
            "button": "Unsubscribe from Promos",
        }
        for n, name in enumerate(cases):
            response = await deliver(client, number, notification(name, id=f"wamid.K{n}"))
            assert response.status_code == 200, (name, response.text)
        async with runtime.db.session() as session:
            stored = (await session.scalars(select(Message).order_by(Message.id))).all()
        assert [m.text for m in stored] == list(cases.values())
        assert stored[2].meta["whatsapp"]["reply"] == {
            "kind": "button_reply",
            "id": "change-button",
        }
        assert stored[3].meta["whatsapp"]["reply"]["id"] == "priority_express"
        assert stored[0].meta["whatsapp"]["location"]["latitude"] == 37.483253479003906

    async def test_a_reaction_is_a_small_message_linked_to_what_it_reacts_to(
        self, client, number, runtime, cast, graph_api
    ):
        await deliver(client, number, notification("text", timestamp=_now()))
        message = await only_message(runtime)
        await client.post(
            f"/api/v1/conversations/{message.conversation_id}/messages",
            json={"text": "We have it in purple"},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        reacted = graph_api.sent("text")[0]
        assert reacted
        payload = notification("reaction", id="wamid.R1")
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["message_id"] = (
            "wamid.SENT0001"
        )
        assert (await deliver(client, number, payload)).status_code == 200
        async with runtime.db.session() as session:
            reaction = (
                await session.scalars(select(Message).where(Message.external_id == "wamid.R1"))
            ).one()
        assert reaction.text == "😀"
        assert reaction.conversation_id == message.conversation_id
        assert reaction.meta["whatsapp"]["reaction"] == {
            "message_id": "wamid.SENT0001",
            "emoji": "😀",
        }


def _now() -> str:
    from tests.channels.whatsapp.conftest import now_stamp

    return now_stamp()


class TestMedia:
    async def test_image_is_downloaded_through_its_media_id_with_the_token(
        self, client, number, runtime, graph_api
    ):
        jpeg = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 100
        graph_api.media["1003383421387256"] = ("image/jpeg", jpeg)
        response = await deliver(client, number, notification("image"))
        assert response.status_code == 200, response.text
        message = await only_message(runtime)
        assert message.text == "Purple, like this"
        async with runtime.db.session() as session:
            [attachment] = (await session.scalars(select(Attachment))).all()
        assert attachment.content_type == "image/jpeg"
        assert BlobStore(runtime.settings.blob_dir).get(attachment.blob_key) == jpeg
        assert graph_api.bad_tokens == 0

    async def test_audio_video_and_document_are_attachments(
        self, client, number, runtime, graph_api
    ):
        graph_api.media["1003383421387257"] = ("audio/ogg", b"OggS-voice")
        graph_api.media["1003383421387258"] = ("video/mp4", b"\x00\x00\x00\x18ftypmp42")
        graph_api.media["1003383421387259"] = ("application/pdf", b"%PDF-1.4 invoice")
        for n, name in enumerate(("audio", "video", "document")):
            response = await deliver(client, number, notification(name, id=f"wamid.M{n}"))
            assert response.status_code == 200, response.text
        async with runtime.db.session() as session:
            files = (await session.scalars(select(Attachment).order_by(Attachment.id))).all()
        assert [f.content_type for f in files] == ["audio/ogg", "video/mp4", "application/pdf"]
        assert files[2].filename == "invoice.pdf"

    async def test_media_meta_no_longer_has_is_noted_and_the_message_kept(
        self, client, number, runtime
    ):
        response = await deliver(client, number, notification("image"))
        assert response.status_code == 200
        message = await only_message(runtime)
        assert message.meta["missing_files"] == ["image-1003383421387256.jpeg"]
        assert await count(runtime, Attachment) == 0

    async def test_media_server_down_is_502_and_nothing_stored(
        self, client, number, runtime, graph_api
    ):
        graph_api.media_down = True
        response = await deliver(client, number, notification("image"))
        assert response.status_code == 502
        assert await count(runtime, Message) == 0


class TestStatuses:
    async def _sent(self, client, number, runtime, cast) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        await deliver(client, number, notification("text", timestamp=_now()))
        message = await only_message(runtime)
        await client.post(
            f"/api/v1/conversations/{message.conversation_id}/messages",
            json={"text": "On its way"},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        items = await messages_of(client, cast, message.conversation_id)
        return items[-1]

    async def test_delivered_then_read_land_on_the_message(
        self, client, number, runtime, cast, graph_api
    ):
        sent = await self._sent(client, number, runtime, cast)
        assert sent["provider_message_id"] == "wamid.SENT0001"
        assert sent["delivery_status"] == "sent"
        for name in ("status_delivered", "status_read"):
            response = await deliver(client, number, notification(name, id="wamid.SENT0001"))
            assert response.status_code == 200
            assert response.json()["statuses"] == 1
        items = await messages_of(client, cast, sent["conversation_id"])
        assert items[-1]["delivery_status"] == "read"

    async def test_failed_carries_the_providers_code_and_title(
        self, client, number, runtime, cast, graph_api
    ):
        sent = await self._sent(client, number, runtime, cast)
        await deliver(client, number, notification("status_failed", id="wamid.SENT0001"))
        items = await messages_of(client, cast, sent["conversation_id"])
        assert items[-1]["delivery_status"] == "failed"
        assert items[-1]["delivery_error"] == "131047: Re-engagement message"

    async def test_a_status_before_its_message_is_kept_and_applied_later(
        self, client, number, runtime, cast, graph_api
    ):
        # Meta's "delivered" overtakes our send call's answer: kept, then applied.
        await deliver(client, number, notification("status_delivered", id="wamid.SENT0001"))
        assert await count(runtime, PendingProviderUpdate) == 1
        sent = await self._sent(client, number, runtime, cast)
        assert sent["delivery_status"] == "delivered"
        assert await count(runtime, PendingProviderUpdate) == 0

    async def test_a_late_sent_does_not_move_read_back(
        self, client, number, runtime, cast, graph_api
    ):
        sent = await self._sent(client, number, runtime, cast)
        await deliver(client, number, notification("status_read", id="wamid.SENT0001"))
        await deliver(client, number, notification("status_sent", id="wamid.SENT0001"))
        items = await messages_of(client, cast, sent["conversation_id"])
        assert items[-1]["delivery_status"] == "read"


def _poison() -> list[bytes]:
    def with_message(**fields: Any) -> bytes:
        payload = notification("text")
        payload["entry"][0]["changes"][0]["value"]["messages"][0].update(fields)
        return json.dumps(payload).encode()

    return [
        b"",
        b"null",
        b"[]",
        b"\xff\xfe\x00garbage",
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": []}]}]}',
        with_message(timestamp="999999999999"),
        with_message(timestamp="-5"),
        with_message(**{"from": "not-a-number"}),
        with_message(type="location", location={"latitude": 1e400, "longitude": 0}),
        with_message(type="image", image={"mime_type": "image/jpeg"}),
        with_message(text={"body": 5}),
        with_message(id=""),
    ]


class TestPoison:
    async def test_malformed_notifications_are_refused_never_500_and_nothing_stored(
        self, client, number, runtime
    ):
        for body in _poison():
            response = await deliver(client, number, body)
            assert response.status_code in (400, 422), (body, response.status_code, response.text)
            assert "error" in response.json()
        assert await count(runtime, Message) == 0

    async def test_nul_characters_are_dropped_not_fatal(self, client, number, runtime):
        payload = notification("text", text="hello\x00 there")
        payload["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = "Sh\x00eena"
        response = await deliver(client, number, payload)
        assert response.status_code == 200, response.text
        message = await only_message(runtime)
        assert message.text == "hello there"
        status = notification("status_failed", id="wamid.\x00X")
        status["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]["title"] = "b\x00ad"
        assert (await deliver(client, number, status)).status_code == 200
