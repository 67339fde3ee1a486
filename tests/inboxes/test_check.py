"""POST /api/v1/inboxes/{id}/check: admins only; a channel with nothing to check says so.
Each channel's own check is tested next to its fake provider (tests/channels/*/test_check.py)."""

from __future__ import annotations

from tests.channels.checks import check


class TestCheckRoute:
    async def test_agents_may_not_check(self, client, cast):
        assert (await check(client, cast, cast.website.id, who="alice")).status_code == 403

    async def test_an_unknown_inbox(self, client, cast):
        assert (await check(client, cast, 999_999)).status_code == 404

    async def test_an_api_inbox_has_nothing_to_check(self, client, cast):
        body = (await check(client, cast, cast.website.id)).json()
        assert (body["ok"], body["checked"], body["webhook_url"]) == (False, False, None)
