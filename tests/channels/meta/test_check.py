"""Test connection (POST /api/v1/inboxes/{id}/check) against the fake Graph API: the Page
(GET /{page_id}) with the Page token, for Messenger and Instagram inboxes."""

from __future__ import annotations

import pytest

from tests.channels.checks import check, refused
from tests.channels.meta.conftest import FakeGraphApi, create_page


class TestCheck:
    @pytest.mark.parametrize("channel", ["messenger", "instagram"])
    async def test_the_page_with_its_token(
        self, client, runtime, cast, graph: FakeGraphApi, channel
    ):
        page = await create_page(client, runtime, cast, graph, channel=channel)
        body = (await check(client, cast, page.id)).json()
        assert body == {
            "ok": True,
            "checked": True,
            "detail": "Acme Outfitters",
            "facts": {"page_name": "Acme Outfitters"},
            "webhook_url": runtime.settings.base_url.rstrip("/") + page.hook,
        }
        method, _, sent = graph.calls[-1]
        assert (method, sent["?fields"]) == ("GET", "id,name")

    async def test_a_refusal_names_the_graph_error(
        self, client, runtime, cast, graph: FakeGraphApi
    ):
        page = await create_page(client, runtime, cast, graph)
        graph.fail(400, 190, "Error validating access token: Session has expired")
        message = refused(await check(client, cast, page.id))
        assert message == (
            "the provider refused: 190: Error validating access token: Session has expired"
        )
