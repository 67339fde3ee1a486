"""@mention notifications in a real browser: the badge updates live, the list links to the
conversation, opening it reads the mention (the page posts it), and the state survives a
reload."""

from __future__ import annotations

from tests.conftest import inbound_payload, post_inbound
from tests.web.browser.conftest import agent_page, axe_violations


class TestMentions:
    async def test_live_badge_list_and_read_state_survive_reload(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        posted = await post_inbound(
            client, cast.website, inbound_payload("mb-1", "layla@example.com")
        )
        conversation = posted.json()["conversation_id"]
        alice = await agent_page(browser, base, cast.alice)
        badge = alice.get_by_test_id("fd-mentions")
        await badge.wait_for()
        assert await alice.get_by_test_id("fd-mentions-count").count() == 0
        written = await client.post(
            f"/api/v1/conversations/{conversation}/messages",
            json={
                "text": "@alice she asked for a refund <img src=x onerror=alert(1)>",
                "private": True,
            },
            headers=cast.sara.headers,
        )
        assert written.status_code == 201, written.text
        # Live: the badge counts the new mention without a reload.
        count = alice.get_by_test_id("fd-mentions-count")
        await count.wait_for(timeout=10_000)
        assert await count.get_attribute("data-count") == "1"
        await alice.reload()
        await alice.get_by_test_id("fd-mentions-count").wait_for(timeout=10_000)
        await badge.click()
        await alice.wait_for_url(f"{base}/mentions")
        item = alice.get_by_test_id("fd-mention")
        assert await item.get_attribute("data-unread") == "true"
        assert "onerror=alert(1)" in (await item.text_content() or "")
        assert await alice.locator("[data-testid=fd-mention] img").count() == 0
        assert await axe_violations(alice) == []
        # Opening the page reads the mention by a POST once loaded (a GET changes nothing).
        async with alice.expect_response(f"**/conversations/{conversation}/mentions/read") as read:
            await item.get_by_role("link").click()
        assert (await read.value).status == 204
        await alice.wait_for_url(f"{base}/conversations/{conversation}")
        await alice.get_by_test_id("fd-mentions").wait_for()
        await alice.goto(f"{base}/mentions")
        assert await alice.get_by_test_id("fd-mention").get_attribute("data-unread") == "false"
        async with alice.expect_response("**/partials/mentions-badge") as loaded:
            await alice.reload()
        assert (await loaded.value).ok
        await alice.wait_for_load_state("networkidle")
        assert await alice.get_by_test_id("fd-mentions-count").count() == 0
