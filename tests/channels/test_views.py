from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select

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
