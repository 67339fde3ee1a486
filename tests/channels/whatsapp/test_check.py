"""Test connection (POST /api/v1/inboxes/{id}/check) against the fake Graph API: the number
itself (GET /{phone_number_id}) with the inbox's token."""

from __future__ import annotations

from tests.channels.checks import check, refused
from tests.channels.whatsapp.conftest import FakeGraphApi, create_number


class TestCheck:
    async def test_the_number_as_the_graph_api_shows_it(
        self, client, runtime, cast, graph_api: FakeGraphApi
    ):
        number = await create_number(client, runtime, cast, graph_api)
        body = (await check(client, cast, number.id)).json()
        assert body["ok"] is True and body["detail"] == "Acme Outfitters"
        assert body["facts"]["display_phone_number"] == "+1 555-010-0199"
        assert body["webhook_url"].endswith(f"/webhooks/whatsapp/{number.id}")
        assert graph_api.bad_tokens == 0

    async def test_a_bad_token_is_refused_with_metas_message(
        self, client, runtime, cast, graph_api: FakeGraphApi
    ):
        number = await create_number(
            client, runtime, cast, graph_api, access_token="EAAwrong-token-0000"
        )
        message = refused(await check(client, cast, number.id))
        assert "Invalid OAuth access token" in message and "190" in message
