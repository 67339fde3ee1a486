# ruff: noqa: RUF001  (Persian digits are the point of this test)
"""A chat visitor waiting for an agent sees their place and the expected wait in the widget,
in Persian with Persian digits, updated live as the queue moves, and gone once an agent
accepts the chat. Playwright + headless Chromium against the app on a real port."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.routing.models import RoutingTask
from tests.channels.webchat.test_queue_place import support_queue
from tests.helpers import make_chat
from tests.routing.test_views import set_worker
from tests.web.browser.conftest import customer_page, widget_say

QUEUE = "[data-testid=fd-widget-queue]"


async def shows(page, position: str, text: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator(QUEUE)
    await page.wait_for_selector(f"{QUEUE}[data-position='{position}']", timeout=15_000)
    assert text in (await box.text_content() or "")
    assert await box.is_visible()


class TestPlaceInTheWidget:
    async def test_place_and_wait_live_in_persian(
        self, browser, live_server, cast, runtime, client
    ):
        await support_queue(client, cast)
        await make_chat(runtime, cast, language="fa")
        base = f"http://{live_server}"
        first = await customer_page(browser, base)
        await widget_say(first, "سلام، کمک می‌خواهم")
        await shows(first, "1", "شما نفر ۱ در صف هستید.")
        second = await customer_page(browser, base)
        await widget_say(second, "من هم")
        await shows(second, "2", "شما نفر ۲ در صف هستید.")
        # Alice comes back with room for one chat: the first chat is offered to her and the
        # second moves up, now with an expected wait (one slot, 5 minutes a chat).
        await set_worker(client, cast, cast.alice.id, presence="available")
        await shows(second, "1", "شما نفر ۱ در صف هستید — زمان انتظار حدود ۵ دقیقه.")
        async with runtime.db.session() as session:
            task = await session.scalar(select(RoutingTask).where(RoutingTask.status == "offered"))
        assert task is not None and task.assignee_id == cast.alice.id
        accepted = await client.post(f"/api/v1/tasks/{task.id}/accept", headers=cast.alice.headers)
        assert accepted.status_code == 200, accepted.text
        await first.wait_for_selector(QUEUE, state="hidden", timeout=15_000)
        assert await first.locator(QUEUE).text_content() == ""
        # The other visitor never saw anything about the first one.
        assert "۲" not in (await second.locator(QUEUE).text_content() or "")
