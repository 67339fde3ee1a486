"""The activity log in a real browser: a change made in the desktop appears in the timeline as
a quiet line naming who did it, in the agent's language, with names isolated from the
right-to-left text around them, and the page stays accessible."""

from __future__ import annotations

from tests.conftest import inbound_payload, post_inbound
from tests.web.browser.conftest import agent_page, axe_violations


class TestActivityLog:
    async def test_a_status_change_is_a_line_in_arabic(self, browser, live_server, cast, client):
        base = f"http://{live_server}"
        posted = await post_inbound(client, cast.website, inbound_payload("ba-1", "l@example.com"))
        conversation = posted.json()["conversation_id"]
        switched = await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "ar"}, headers=cast.ada.headers
        )
        assert switched.status_code == 200, switched.text
        alice = await agent_page(browser, base, cast.alice)
        await alice.goto(f"{base}/conversations/{conversation}")
        lines = alice.get_by_test_id("fd-activity")
        await lines.first.wait_for()
        assert await lines.count() == 1  # opened
        await (
            alice.get_by_test_id("fd-actions-menu").locator("summary").click()
        )  # the toolbar's menu
        await alice.get_by_test_id("fd-status").select_option("pending")
        await alice.get_by_test_id("fd-update").click()
        changed = alice.locator("[data-testid=fd-activity][data-kind=status]")
        await changed.wait_for(timeout=10_000)
        text = await changed.text_content() or ""
        assert "غيّر" in text and "Alice" in text  # the Arabic sentence, naming the agent
        # The agent's Latin name is isolated, so it cannot reorder the sentence around it.
        assert await changed.locator("bdi", has_text="Alice").count() == 1
        assert await alice.evaluate("document.documentElement.dir") == "rtl"
        assert await axe_violations(alice) == []
