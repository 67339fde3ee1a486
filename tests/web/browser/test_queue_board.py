"""The supervisor's queue board updates live: a new waiting task and an agent coming back show
without a reload. Playwright + headless Chromium against the app on a real port."""

from __future__ import annotations

from tests.channels.webchat.test_queue_place import support_queue
from tests.conftest import inbound_payload, post_inbound
from tests.routing.test_views import set_worker
from tests.web.browser.conftest import agent_page


class TestQueueBoard:
    async def test_the_board_follows_the_queue_live(self, browser, live_server, cast, client):
        queue_id = await support_queue(client, cast)  # Alice away: tasks wait
        page = await agent_page(browser, f"http://{live_server}", cast.sara)
        await page.goto(f"http://{live_server}/supervisor")
        row = f"[data-testid=fd-queue-row][data-queue-id='{queue_id}']"
        await page.wait_for_selector(f"{row}[data-waiting='0'][data-agents-away='1']")
        answer = await post_inbound(
            client, cast.website, inbound_payload("board-1", "mona@example.com", "help")
        )
        assert answer.status_code == 202, answer.text
        await page.wait_for_selector(f"{row}[data-waiting='1']", timeout=15_000)
        assert await page.locator(f"{row} [data-testid=fd-queue-oldest]").get_attribute(
            "data-seconds"
        ) not in (None, "")
        # Alice comes back: she counts as available (and takes the task off the queue).
        await set_worker(client, cast, cast.alice.id, presence="available", capacity={"api": 1})
        await page.wait_for_selector(
            f"{row}[data-agents-available='1'][data-waiting='0']", timeout=15_000
        )
