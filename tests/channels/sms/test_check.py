"""Test connection (POST /api/v1/inboxes/{id}/check) against the fake Twilio API: the
account, the same answer as the older POST /inboxes/{id}/sms/check."""

from __future__ import annotations

from tests.channels.checks import check, refused
from tests.channels.sms.conftest import FakeTwilio, create_sms_inbox


class TestCheck:
    async def test_the_account_and_the_old_route_agree(
        self, client, runtime, cast, twilio: FakeTwilio
    ):
        inbox = await create_sms_inbox(client, runtime, cast, twilio)
        body = (await check(client, cast, inbox.id)).json()
        assert body["ok"] is True
        assert body["facts"] == {"account_name": "Acme support", "account_status": "active"}
        old = await client.post(f"/api/v1/inboxes/{inbox.id}/sms/check", headers=cast.ada.headers)
        assert old.json()["account_name"] == "Acme support"

    async def test_a_wrong_token(self, client, runtime, cast, twilio: FakeTwilio):
        inbox = await create_sms_inbox(client, runtime, cast, twilio, auth_token="w" * 32)
        message = refused(await check(client, cast, inbox.id))
        assert message == "the provider refused: 20003: Authenticate"
