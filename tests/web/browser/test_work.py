"""An offer pushed to the desktop: the banner appears with a countdown, and accepting from
the banner gives the agent the task (axe clean)."""

from __future__ import annotations

from tests.routing.test_views import set_worker
from tests.web.browser.conftest import agent_page, axe_violations, live
from tests.web.test_work import make_queue, task, work_item


class TestOfferBanner:
    async def test_an_offer_is_pushed_and_accepted_from_the_banner(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        support = await make_queue(client, cast, "Support", "Support")
        alice = await agent_page(browser, base, cast.alice)
        await alice.goto(f"{base}/work")
        await live(alice)
        banner = alice.get_by_test_id("fd-offer")
        assert await banner.is_hidden()
        await set_worker(client, cast, cast.alice.id, capacity={"backoffice": 1})
        task_id = await work_item(client, cast, support, "call back Layla")
        assert (await task(client, cast, task_id))["status"] == "offered"
        await banner.wait_for(state="visible", timeout=15_000)
        assert "call back Layla" in (
            await alice.get_by_test_id("fd-offer-what").text_content() or ""
        )
        left = await alice.get_by_test_id("fd-offer-left").text_content() or ""
        assert any(ch.isdigit() for ch in left)
        # The list refreshed live too: the task shows as offered.
        row = alice.locator(f"[data-testid=fd-task][data-task-id='{task_id}']")
        await row.wait_for(timeout=15_000)
        assert await axe_violations(alice) == []
        await alice.get_by_test_id("fd-offer-accept").click()
        await alice.wait_for_url(f"{base}/work?notice=accept")
        assert (await task(client, cast, task_id))["status"] == "assigned"
        row = alice.locator(f"[data-testid=fd-task][data-task-id='{task_id}']")
        assert await row.get_attribute("data-status") == "assigned"
        assert await alice.get_by_test_id("fd-offer").is_hidden()
        assert await axe_violations(alice) == []

    async def test_routing_settings_pages_are_axe_clean_with_an_error_shown(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        await make_queue(client, cast, "Support", "Support")
        ada = await agent_page(browser, base, cast.ada)
        await ada.goto(f"{base}/settings/routing/queues")
        await ada.locator("#fd-q-name").fill("Broken")
        await ada.locator("#fd-q-expr").fill("skills HAS")
        await ada.locator("[data-testid=fd-queue-form] button[type=submit]").click()
        error = ada.get_by_test_id("fd-expr-error")
        await error.wait_for()
        assert await error.get_attribute("data-position") == "10"
        assert await axe_violations(ada) == []
        for path in ("policies", f"agents?agent={cast.alice.id}"):
            await ada.goto(f"{base}/settings/routing/{path}")
            assert await axe_violations(ada) == [], path
