"""Test connection on a generic SMS gateway: its settings name no check URL, so the honest
answer is "nothing to check" and the gateway is not called."""

from __future__ import annotations

from tests.channels.checks import check
from tests.channels.sms_gateway.conftest import FakeGateway, create_gateway_inbox


class TestCheck:
    async def test_nothing_to_check(self, client, runtime, cast, gateway: FakeGateway):
        inbox = await create_gateway_inbox(client, runtime, cast, gateway)
        body = (await check(client, cast, inbox.id)).json()
        assert body["ok"] is False and body["checked"] is False
        assert body["webhook_url"].endswith(f"/webhooks/sms_gateway/{inbox.id}")
        assert gateway.received == []
