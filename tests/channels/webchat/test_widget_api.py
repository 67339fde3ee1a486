"""The widget's HTTP side: sessions, identity verification, uploads, e-mail continuation,
transcripts, presence — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.auth import repository as auth_repository
from frontdesk.channels.webchat.tokens import read, user_hash
from frontdesk.customers.models import Identity
from frontdesk.kit import uow
from frontdesk.kit.jobs import Job
from frontdesk.routing import service as routing
from tests.channels.email.conftest import Relay, start_relay
from tests.conftest import run_jobs
from tests.helpers import make_chat, visitor_token


async def post(client, path: str, body: dict) -> object:  # type: ignore[no-untyped-def]
    return await client.post(path, content=json.dumps(body))


class TestSettings:
    async def test_admin_creates_a_webchat_inbox_with_colours_and_language(self, client, cast):
        response = await client.post(
            "/api/v1/inboxes",
            json={
                "channel": "webchat",
                "name": "Site",
                "settings": {"color": "#aa3300", "language": "fa", "greeting": "سلام"},
            },
            headers=cast.ada.headers,
        )
        assert response.status_code == 201, response.text
        config = (await client.get(f"/widget/api/config?inbox={response.json()['id']}")).json()
        assert config["color"] == "#aa3300"
        assert config["dir"] == "rtl"
        assert config["strings"]["Send"] == "ارسال"

    async def test_bad_colour_is_refused(self, client, cast):
        response = await client.post(
            "/api/v1/inboxes",
            json={"channel": "webchat", "name": "Site", "settings": {"color": "red;x"}},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid"

    async def test_script_capable_upload_types_are_refused(self, client, cast):
        response = await client.post(
            "/api/v1/inboxes",
            json={
                "channel": "webchat",
                "name": "S",
                "settings": {"upload_types": ["image/svg+xml"]},
            },
            headers=cast.ada.headers,
        )
        assert response.status_code == 422

    async def test_webchat_has_no_signed_http_inbound(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        response = await client.post(f"/api/v1/inboxes/{chat.id}/inbound", content=b"{}")
        assert response.status_code == 401


class TestSessions:
    async def test_widget_script_and_config_are_served_cross_origin(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        script = await client.get("/widget.js")
        assert script.status_code == 200
        assert script.headers["access-control-allow-origin"] == "*"
        config = await client.get(f"/widget/api/config?inbox={chat.id}")
        assert config.json()["online"] is False

    async def test_a_token_continues_the_same_visitor(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        again = await visitor_token(client, chat, token=token)
        # Renewed (its expiry slides), but the same visitor.
        secret = runtime.settings.secret_key
        first, renewed = read(secret, token), read(secret, again)
        assert first is not None and renewed is not None
        assert (renewed.inbox_id, renewed.key) == (first.inbox_id, first.key)
        assert renewed.expires_at >= first.expires_at

    async def test_verified_user_is_the_same_visitor_on_every_device(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        proof = user_hash(chat.secret, "user-42")
        one = await visitor_token(client, chat, user_id="user-42", user_hash=proof)
        two = await visitor_token(client, chat, user_id="user-42", user_hash=proof)
        secret = runtime.settings.secret_key
        first, second = read(secret, one), read(secret, two)
        assert first is not None and second is not None
        assert (first.key, first.user_id) == (second.key, second.user_id) == (first.key, "user-42")

    async def test_a_visitor_name_that_cannot_be_stored_is_refused(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        for name in ("a\x00b", "Layla\r\nBcc: x@example.com"):
            response = await post(
                client, "/widget/api/session", {"inbox_id": chat.id, "name": name}
            )
            assert response.status_code == 422, response.text  # was a 500 (NUL on PostgreSQL)

    async def test_wrong_user_hash_is_refused(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        response = await post(
            client,
            "/widget/api/session",
            {"inbox_id": chat.id, "user_id": "user-42", "user_hash": "00" * 32},
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "bad_user_hash"

    async def test_verification_required_refuses_anonymous_visitors(self, client, cast, runtime):
        chat = await make_chat(runtime, cast, identity_verification=True)
        response = await post(client, "/widget/api/session", {"inbox_id": chat.id})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "verification_required"

    async def test_config_says_online_when_a_serving_agent_is_available(
        self, client, cast, runtime
    ):
        chat = await make_chat(runtime, cast)
        async with runtime.db.session() as session:
            bob = await auth_repository.get_agent(session, cast.bob.id)
            assert bob is not None
            await routing.set_status(session, bob, "available")  # Bob does not serve the chat
            await uow.commit(session)
        assert (await client.get(f"/widget/api/config?inbox={chat.id}")).json()["online"] is False
        async with runtime.db.session() as session:
            alice = await auth_repository.get_agent(session, cast.alice.id)
            assert alice is not None
            await routing.set_status(session, alice, "available")
            await uow.commit(session)
        assert (await client.get(f"/widget/api/config?inbox={chat.id}")).json()["online"] is True


class TestUploads:
    async def test_accepted_file_is_stored_on_the_conversation(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        response = await client.post(
            "/widget/api/upload",
            data={"token": token, "id": "upload-0002"},
            files={"file": ("photo.png", b"\x89PNG fake", "image/png")},
        )
        assert response.status_code == 200, response.text
        assert response.json()["message"]["attachments"][0]["name"] == "photo.png"

    async def test_type_outside_the_list_is_refused(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        response = await client.post(
            "/widget/api/upload",
            data={"token": token, "id": "upload-0003"},
            files={"file": ("page.html", b"<script>x</script>", "text/html")},
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "upload_type"

    async def test_file_over_the_limit_is_refused(self, client, cast, runtime):
        chat = await make_chat(runtime, cast, max_upload_bytes=10)
        token = await visitor_token(client, chat)
        response = await client.post(
            "/widget/api/upload",
            data={"token": token, "id": "upload-0004"},
            files={"file": ("big.txt", b"x" * 11, "text/plain")},
        )
        assert response.status_code == 413


def email_settings(relay: Relay) -> dict[str, Any]:
    return {
        "address": "chat@frontdesk.test",
        "smtp": {"host": "127.0.0.1", "port": relay.port, "security": "none"},
    }


@pytest.fixture
async def relay_sink() -> AsyncIterator[Relay]:
    """An SMTP relay on loopback standing in for the inbox's outbound mail server."""
    sink = Relay()
    server = await start_relay(sink)
    yield sink
    server.close()
    await server.wait_closed()


class TestNoAgentOnline:
    async def test_continue_by_email_adds_the_identity_to_the_same_customer(
        self, client, cast, runtime
    ):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        response = await post(
            client,
            "/widget/api/email",
            {
                "token": token,
                "email": "Nour@Example.com",
                "text": "call me back",
                "id": "mail-0001",
            },
        )
        assert response.status_code == 200, response.text
        async with runtime.db.session() as session:
            identities = (await session.scalars(select(Identity).order_by(Identity.id))).all()
            kinds = {(i.kind, i.address): i.customer_id for i in identities}
        webchat = next(cid for (kind, _), cid in kinds.items() if kind == "webchat")
        assert kinds[("email", "nour@example.com")] == webchat

    async def test_the_reply_goes_out_by_email_in_the_same_conversation(
        self, client, cast, runtime, relay_sink
    ):
        chat = await make_chat(runtime, cast, email=email_settings(relay_sink))
        token = await visitor_token(client, chat)
        await post(
            client,
            "/widget/api/email",
            {"token": token, "email": "nour@example.com", "text": "hi", "id": "mail-0002"},
        )
        [conversation] = (
            await client.get("/api/v1/conversations", headers=cast.alice.headers)
        ).json()["items"]
        reply = await client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": "We will write to you"},
            headers=cast.alice.headers,
        )
        assert reply.status_code == 201
        await run_jobs(runtime)
        messages = (
            await client.get(
                f"/api/v1/conversations/{conversation['id']}/messages", headers=cast.alice.headers
            )
        ).json()["items"]
        assert messages[-1]["delivery_status"] == "sent", messages[-1]
        [mail] = relay_sink.mails
        assert mail["To"].addresses[0].addr_spec == "nour@example.com"
        assert mail["From"].addresses[0].addr_spec == "chat@frontdesk.test"
        assert "We will write to you" in mail.get_body(("plain",)).get_content()

    async def test_without_email_settings_the_reply_fails_visibly(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        await post(
            client,
            "/widget/api/email",
            {"token": token, "email": "nour@example.com", "text": "hi", "id": "mail-0004"},
        )
        [conversation] = (
            await client.get("/api/v1/conversations", headers=cast.alice.headers)
        ).json()["items"]
        await client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": "lost?"},
            headers=cast.alice.headers,
        )
        await run_jobs(runtime)
        messages = (
            await client.get(
                f"/api/v1/conversations/{conversation['id']}/messages", headers=cast.alice.headers
            )
        ).json()["items"]
        assert messages[-1]["delivery_status"] == "failed"
        assert "no e-mail settings" in messages[-1]["delivery_error"]

    async def test_transcript_is_mailed_to_the_visitor(self, client, cast, runtime, relay_sink):
        chat = await make_chat(runtime, cast, email=email_settings(relay_sink))
        token = await visitor_token(client, chat)
        await post(
            client,
            "/widget/api/email",
            {"token": token, "email": "nour@example.com", "text": "hi there", "id": "mail-0003"},
        )
        response = await post(
            client, "/widget/api/transcript", {"token": token, "id": "transcript-0001"}
        )
        assert response.status_code == 200
        assert response.json() == {"queued": True, "email": "nour@example.com"}
        await run_jobs(runtime)
        async with runtime.db.session() as session:
            job = await session.scalar(select(Job).where(Job.kind == "webchat.transcript"))
            assert job is not None and job.state == "completed", job and job.last_error
        [mail] = relay_sink.mails
        assert mail["To"].addresses[0].addr_spec == "nour@example.com"
        assert "hi there" in mail.get_body(("plain",)).get_content()

    async def test_a_transcript_goes_only_to_the_visitors_own_address(
        self, client, cast, runtime, relay_sink
    ):
        chat = await make_chat(runtime, cast, email=email_settings(relay_sink))
        token = await visitor_token(client, chat)
        await post(
            client,
            "/widget/api/email",
            {"token": token, "email": "nour@example.com", "text": "hi", "id": "mail-0005"},
        )
        elsewhere = await post(
            client,
            "/widget/api/transcript",
            {"token": token, "email": "victim@example.org", "id": "transcript-0002"},
        )
        assert elsewhere.status_code == 403
        assert elsewhere.json()["error"]["code"] == "not_your_address"
        own = await post(
            client,
            "/widget/api/transcript",
            {"token": token, "email": "NOUR@example.com", "id": "transcript-0003"},
        )
        assert own.status_code == 200 and own.json()["email"] == "nour@example.com"
        await run_jobs(runtime)
        assert [m["To"].addresses[0].addr_spec for m in relay_sink.mails] == ["nour@example.com"]

    async def test_nor_to_an_address_another_customer_owns(self, client, cast, runtime):
        from tests.conftest import inbound_payload, post_inbound

        await post_inbound(client, cast.website, inbound_payload("w-2", "owner@example.com"))
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat, email="owner@example.com")
        await post(
            client,
            "/widget/api/email",
            {"token": token, "email": "owner@example.com", "text": "hi", "id": "mail-0006"},
        )
        response = await post(client, "/widget/api/transcript", {"token": token, "id": "tr-000004"})
        assert response.status_code == 403

    async def test_transcripts_are_rate_limited(self, client, cast, runtime, relay_sink):
        chat = await make_chat(runtime, cast, email=email_settings(relay_sink))
        token = await visitor_token(client, chat)
        await post(
            client,
            "/widget/api/email",
            {"token": token, "email": "nour@example.com", "text": "hi", "id": "mail-0007"},
        )
        answers = [
            (await post(client, "/widget/api/transcript", {"token": token, "id": f"tr-limit-{n}"}))
            for n in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 200, 429, 429]
        assert answers[-1].json()["error"]["code"] == "rate_limited"
        async with runtime.db.session() as session:
            queued = await session.scalars(select(Job).where(Job.kind == "webchat.transcript"))
            assert len(queued.all()) == 2

    async def test_email_of_another_customer_is_not_taken_over(self, client, cast, runtime):
        from tests.conftest import inbound_payload, post_inbound

        await post_inbound(client, cast.website, inbound_payload("w-1", "owner@example.com"))
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        await post(
            client,
            "/widget/api/email",
            {"token": token, "email": "owner@example.com", "text": "hi", "id": "mail-0004"},
        )
        async with runtime.db.session() as session:
            owner = await session.scalar(select(Identity).where(Identity.kind == "email"))
            visitor = await session.scalar(select(Identity).where(Identity.kind == "webchat"))
            assert owner is not None and visitor is not None
            assert owner.customer_id != visitor.customer_id


class TestDemoSite:
    async def test_demo_site_embeds_the_widget(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        page = await client.get("/demo/site")
        assert page.status_code == 200
        assert f'<script src="/widget.js" data-inbox="{chat.id}" async></script>' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
