"""Test connection (POST /api/v1/inboxes/{id}/check) against the fake Bot API: getMe."""

from __future__ import annotations

from tests.channels.checks import check, refused
from tests.channels.telegram.conftest import FakeBotApi, create_bot


class TestCheck:
    async def test_get_me_names_the_bot(self, client, runtime, cast, bot_api: FakeBotApi):
        bot = await create_bot(client, runtime, cast, bot_api)
        response = await check(client, cast, bot.id)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ok"] is True and body["checked"] is True
        assert body["detail"] == "@acme_support_bot"
        assert body["webhook_url"] == runtime.settings.base_url.rstrip("/") + bot.hook
        assert [name for name, _ in bot_api.calls] == ["getMe"]

    async def test_a_revoked_token_is_refused_in_telegrams_words(
        self, client, runtime, cast, bot_api: FakeBotApi
    ):
        bot = await create_bot(client, runtime, cast, bot_api)
        bot_api.token = "999:revoked-token-revoked"
        message = refused(await check(client, cast, bot.id))
        assert message == "the provider refused: 401: Unauthorized"
