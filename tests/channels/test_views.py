from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select, text

from frontdesk.conversations.models import Attachment, Conversation, Message
from frontdesk.customers.models import Customer
from tests.conftest import b64, inbound_payload, post_inbound


async def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


class TestInboxes:
    async def test_admin_creates_api_inbox_with_secret(self, client, cast):
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "api", "name": "Partner", "webhook_url": "http://127.0.0.1:9/hook"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["channel"] == "api" and len(body["secret"]) == 64
        assert body["settings"]["webhook_url"] == "http://127.0.0.1:9/hook"

    async def test_agents_cannot_manage_inboxes(self, client, cast):
        response = await client.post(
            "/api/v1/inboxes", json={"channel": "api", "name": "X"}, headers=cast.alice.headers
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "admin_only"

    async def test_agent_lists_only_served_inboxes_without_secrets(self, client, cast):
        items = (await client.get("/api/v1/inboxes", headers=cast.alice.headers)).json()["items"]
        assert [item["id"] for item in items] == [cast.website.id]
        assert items[0]["secret"] is None

    async def test_an_inbox_name_with_a_line_break_is_refused(self, client, cast):
        # An inbox's name is the display name of the From header of its mail.
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "api", "name": "Support\r\nBcc: x@example.com"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422
        response = await client.patch(
            f"/api/v1/inboxes/{cast.website.id}",
            json={"name": "Web\nsite"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422

    async def test_unknown_channel_is_refused(self, client, cast):
        response = await client.post(
            "/api/v1/inboxes", json={"channel": "pigeon", "name": "X"}, headers=cast.ada.headers
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "unsupported_channel"

    async def test_private_webhook_url_is_refused_in_production(self, client, cast, runtime):
        runtime.settings.allow_private_webhooks = False
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "api", "name": "X", "webhook_url": "http://169.254.169.254/latest"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "forbidden_url"

    async def test_rotating_the_secret_invalidates_old_signatures(self, client, cast):
        response = await client.patch(
            f"/api/v1/inboxes/{cast.website.id}",
            json={"rotate_secret": True},
            headers=cast.ada.headers,
        )
        assert response.json()["secret"] != cast.website.secret
        response = await post_inbound(client, cast.website, inbound_payload("r1", "a@example.com"))
        assert response.status_code == 401

    async def test_deleted_inbox_refuses_inbound_and_keeps_history(self, client, cast, runtime):
        await post_inbound(client, cast.website, inbound_payload("h1", "a@example.com"))
        assert (
            await client.delete(f"/api/v1/inboxes/{cast.website.id}", headers=cast.ada.headers)
        ).status_code == 204
        response = await post_inbound(client, cast.website, inbound_payload("h2", "a@example.com"))
        assert response.status_code == 404
        assert await count(runtime, Message) == 1


class TestInbound:
    async def test_stores_message_on_new_customer_and_conversation(self, client, cast):
        response = await post_inbound(
            client,
            cast.website,
            inbound_payload("m1", "Layla@Example.com", "my order", sender={"name": "Layla"}),
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["duplicate"] is False
        customer = (
            await client.get(f"/api/v1/customers/{body['customer_id']}", headers=cast.ada.headers)
        ).json()
        assert customer["name"] == "Layla"
        assert customer["identities"] == [
            {"id": 1, "kind": "email", "address": "layla@example.com", "name": None,
             "picture_url": None}
        ]  # fmt: skip

    async def test_same_external_id_posted_concurrently_is_stored_once(self, client, cast, runtime):
        payload = inbound_payload("dup-1", "+44 20 7946 0958", "once")
        responses = await asyncio.gather(
            *(post_inbound(client, cast.website, payload) for _ in range(3))
        )
        assert [r.status_code for r in responses] == [202, 202, 202]
        flags = sorted(r.json()["duplicate"] for r in responses)
        assert flags == [False, True, True]
        assert len({r.json()["message_id"] for r in responses}) == 1
        assert await count(runtime, Message) == 1
        assert await count(runtime, Customer) == 1

    async def test_sixty_distinct_messages_from_one_new_customer_concurrently(
        self, client, cast, runtime
    ):
        responses = await asyncio.gather(
            *(
                post_inbound(client, cast.website, inbound_payload(f"c{i}", "new@example.com"))
                for i in range(60)
            )
        )
        assert {r.status_code for r in responses} == {202}
        assert await count(runtime, Message) == 60
        assert await count(runtime, Customer) == 1
        assert await count(runtime, Conversation) == 1

    async def test_html_is_sanitised(self, client, cast, runtime):
        html = (
            '<p onclick="x()">hi<script>alert(1)</script>'
            '<a href="javascript:alert(1)">l</a><img src=x onerror=alert(1)></p>'
        )
        await post_inbound(
            client, cast.website, inbound_payload("x1", "a@example.com", "hi", html=html)
        )
        async with runtime.db.session() as session:
            stored = (await session.scalars(select(Message))).one().html
        assert "script" not in stored and "onerror" not in stored and "javascript" not in stored
        assert "onclick" not in stored and "hi" in stored

    async def test_attachment_is_stored_content_addressed(self, client, cast, runtime):
        data = b"%PDF-1.4 invoice"
        payload = inbound_payload(
            "att1",
            "a@example.com",
            "see file",
            attachments=[
                {
                    "filename": "invoice.pdf",
                    "content_type": "application/pdf",
                    "data_base64": b64(data),
                }
            ],
        )
        response = await post_inbound(client, cast.website, payload)
        assert response.status_code == 202
        messages = (
            await client.get(
                f"/api/v1/conversations/{response.json()['conversation_id']}/messages",
                headers=cast.alice.headers,
            )
        ).json()
        attachment = messages["items"][0]["attachments"][0]
        assert attachment["size"] == len(data)
        download = await client.get(attachment["url"], headers=cast.alice.headers)
        assert download.content == data
        assert (await client.get(attachment["url"], headers=cast.bob.headers)).status_code == 404


class TestBadInput:
    async def assert_nothing_stored(self, runtime) -> None:  # type: ignore[no-untyped-def]
        for model in (Message, Customer, Conversation, Attachment):
            assert await count(runtime, model) == 0, model

    async def test_bad_signature(self, client, cast, runtime):
        response = await post_inbound(
            client, cast.website, inbound_payload("b1", "a@example.com"), secret="wrong"
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_signature"
        await self.assert_nothing_stored(runtime)

    async def test_missing_signature(self, client, cast, runtime):
        response = await client.post(
            f"/api/v1/inboxes/{cast.website.id}/inbound",
            json=inbound_payload("b1", "a@example.com"),
        )
        assert response.status_code == 401
        await self.assert_nothing_stored(runtime)

    async def test_malformed_json(self, client, cast, runtime):
        response = await post_inbound(client, cast.website, b'{"external_id": "b2", "from": ')
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid"
        await self.assert_nothing_stored(runtime)

    async def test_unknown_inbox(self, client, cast, runtime):
        body = json.dumps(inbound_payload("b3", "a@example.com")).encode()
        response = await client.post(
            "/api/v1/inboxes/999/inbound",
            content=body,
            headers={"X-Frontdesk-Signature": "sha256=00"},
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_inbox"

    async def test_body_over_the_limit(self, client, cast, runtime):
        # The default limit (25 MB, CONTRACT.md) applies.
        response = await post_inbound(
            client, cast.website, inbound_payload("b4", "a@example.com", "x" * 26 * 1024 * 1024)
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"
        await self.assert_nothing_stored(runtime)

    @pytest.mark.parametrize("address", ["not@an@address", "+1 (55", "", "a\x00b", "x" * 400])
    async def test_invalid_address(self, client, cast, runtime, address):
        response = await post_inbound(client, cast.website, inbound_payload("b5", address))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] in {"invalid_address", "invalid"}
        await self.assert_nothing_stored(runtime)

    async def test_attachment_over_the_limit(self, client, cast, runtime):
        runtime.settings.max_attachment_bytes = 1000
        payload = inbound_payload(
            "b6",
            "a@example.com",
            attachments=[
                {
                    "filename": "big.bin",
                    "content_type": "application/octet-stream",
                    "data_base64": b64(b"x" * 5000),
                }
            ],
        )
        response = await post_inbound(client, cast.website, payload)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "attachment_too_large"
        await self.assert_nothing_stored(runtime)
        assert not (runtime.settings.blob_dir).exists() or not any(
            runtime.settings.blob_dir.rglob("*")
        )

    async def test_missing_fields(self, client, cast, runtime):
        response = await post_inbound(client, cast.website, {"external_id": "b7"})
        assert response.status_code == 422
        assert "from" in response.json()["error"]["message"]
        await self.assert_nothing_stored(runtime)


class TestHostileInput:
    """Issue 9: what an API caller sends is stored safely or refused with a 4xx, never 500."""

    async def stored_attachments(self, runtime) -> list[Attachment]:  # type: ignore[no-untyped-def]
        async with runtime.db.session() as session:
            rows = list((await session.scalars(select(Attachment).order_by(Attachment.id))).all())
            await session.commit()
            return rows

    async def test_attachment_names_and_types_are_sanitised_like_uploads(
        self, client, cast, runtime
    ):
        files = [
            ("../../etc/passwd", "text/plain"),
            ("a\x00b.txt", "text/plain"),
            ("invoice\u202egnp.exe", "application/pdf"),
            ("report.txt", "text/plain\r\nX-Injected: 1"),
            ("..\\..\\boot.ini", "Application/PDF; name=x"),
        ]
        payload = inbound_payload(
            "h1",
            "a@example.com",
            attachments=[
                {"filename": name, "content_type": kind, "data_base64": b64(b"data")}
                for name, kind in files
            ],
        )
        response = await post_inbound(client, cast.website, payload)
        assert response.status_code == 202, response.text
        stored = await self.stored_attachments(runtime)
        assert [(row.filename, row.content_type) for row in stored] == [
            ("_.._etc_passwd", "text/plain"),
            ("ab.txt", "text/plain"),
            ("invoicegnp.exe", "application/pdf"),
            ("report.txt", "application/octet-stream"),
            ("_.._boot.ini", "application/pdf"),
        ]

    @pytest.mark.parametrize(
        "field",
        [
            {"text": "nul \x00 in the text"},
            {"external_id": "ext\x00id"},
            {"thread": "thread\x00one"},
            {"html": "<p>nul \x00</p>"},
        ],
    )
    async def test_characters_a_database_cannot_hold_are_replaced(
        self, client, cast, runtime, field
    ):
        payload = {**inbound_payload("h2", "a@example.com"), **field}
        first = await post_inbound(client, cast.website, payload)
        again = await post_inbound(client, cast.website, payload)
        assert first.status_code == again.status_code == 202, first.text
        assert again.json()["duplicate"] is True
        async with runtime.db.session() as session:
            message = await session.scalar(select(Message))
            await session.commit()
        assert message is not None
        stored = [message.text, message.external_id, message.html or ""]
        assert not any("\x00" in value for value in stored)
        assert any("\ufffd" in value for value in stored) or "thread" in field

    @pytest.mark.parametrize(
        "field",
        [
            {"from": {"address": "a@example.com", "name": "Layla\r\nBcc: x@example.com"}},
            {"from": {"address": "a@example.com", "name": "nul\x00name"}},
            {"subject": "Order\r\nBcc: x@example.com"},
        ],
    )
    async def test_line_breaks_in_names_and_subjects_are_refused(
        self, client, cast, runtime, field
    ):
        payload = {**inbound_payload("h3", "a@example.com"), **field}
        response = await post_inbound(client, cast.website, payload)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid"
        assert await count(runtime, Message) == 0

    async def test_a_message_the_database_refuses_is_a_422_not_a_retry(self, client, cast, runtime):
        # Stands for any failure no rule foresees that fails the same way every time: here
        # the database refuses the row (a trigger), so the message fails alone.
        postgres = runtime.db.engine.dialect.name == "postgresql"
        async with runtime.db.session() as session:
            if postgres:
                await session.execute(
                    text(
                        "CREATE OR REPLACE FUNCTION fd_test_refuse() RETURNS trigger AS $$ "
                        "BEGIN IF NEW.text = 'refuse me' THEN RAISE EXCEPTION 'refused' "
                        "USING ERRCODE = '22023'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                    )
                )
                await session.execute(
                    text(
                        "CREATE TRIGGER fd_test_refuse BEFORE INSERT ON messages FOR EACH ROW "
                        "EXECUTE FUNCTION fd_test_refuse()"
                    )
                )
            else:
                await session.execute(
                    text(
                        "CREATE TRIGGER fd_test_refuse BEFORE INSERT ON messages "
                        "WHEN NEW.text = 'refuse me' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                    )
                )
            await session.commit()
        try:
            bad, good = (
                inbound_payload("h4", "a@example.com", "refuse me"),
                inbound_payload("h5", "b@example.com", "store me"),
            )
            responses = await asyncio.gather(
                post_inbound(client, cast.website, bad), post_inbound(client, cast.website, good)
            )
        finally:
            async with runtime.db.session() as session:
                await session.execute(
                    text("DROP TRIGGER fd_test_refuse" + (" ON messages" if postgres else ""))
                )
                if postgres:
                    await session.execute(text("DROP FUNCTION fd_test_refuse()"))
                await session.commit()
        assert [r.status_code for r in responses] == [422, 202]
        assert responses[0].json()["error"]["code"] == "not_storable"
        assert await count(runtime, Message) == 1
