"""Test connection (POST /api/v1/inboxes/{id}/check) for e-mail: the relay (EHLO, AUTH, no
mail sent) against the aiosmtpd sink, the mailbox (login, SELECT) against Dovecot, and the
SSRF guard."""

from __future__ import annotations

from tests.channels.checks import check, refused
from tests.channels.email.conftest import Relay, create_email_inbox
from tests.channels.email.dovecot import PASSWORD


def relay_at(relay: Relay, password: str = "relay-pass") -> dict[str, object]:
    return {"host": "127.0.0.1", "port": relay.port, "security": "none",
            "username": "frontdesk", "password": password}  # fmt: skip


def mailbox_of(dovecot, user: str, password: str = PASSWORD) -> dict[str, object]:  # type: ignore[no-untyped-def]
    # Dovecot answers a failed login only after its auth penalty (seconds, growing).
    return {"host": "127.0.0.1", "port": dovecot.port, "security": "none",
            "username": user, "password": password, "timeout_seconds": 60}  # fmt: skip


class TestCheck:
    async def test_relay_with_auth_and_mailbox(
        self, client, runtime, cast, relay: Relay, dovecot, imap_user
    ):
        inbox_id = await create_email_inbox(
            runtime,
            address=f"{imap_user}@frontdesk.test",
            smtp=relay_at(relay),
            imap=mailbox_of(dovecot, imap_user),
        )
        body = (await check(client, cast, inbox_id)).json()
        assert body["ok"] is True, body
        assert set(body["facts"]) == {"smtp", "imap"}
        assert relay.logins == ["frontdesk"] and relay.envelopes == []

    async def test_a_wrong_relay_password(self, client, runtime, cast, relay: Relay):
        inbox_id = await create_email_inbox(runtime, smtp=relay_at(relay, "nope"))
        message = refused(await check(client, cast, inbox_id))
        assert message.startswith("the provider refused: SMTP 535")

    async def test_a_wrong_mailbox_password(self, client, runtime, cast, dovecot, imap_user):
        inbox_id = await create_email_inbox(
            runtime,
            address=f"{imap_user}@frontdesk.test",
            imap=mailbox_of(dovecot, imap_user, "wrong"),
        )
        message = refused(await check(client, cast, inbox_id))
        assert message.startswith("the provider refused: IMAP login refused")

    async def test_the_ssrf_guard_applies(self, client, runtime, cast, relay: Relay):
        inbox_id = await create_email_inbox(
            runtime, smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"}
        )
        runtime.settings.allow_private_webhooks = False
        response = await check(client, cast, inbox_id)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "forbidden_url"

    async def test_no_server_nothing_to_check(self, client, runtime, cast):
        inbox_id = await create_email_inbox(runtime)
        body = (await check(client, cast, inbox_id)).json()
        assert (body["ok"], body["checked"]) == (False, False)
