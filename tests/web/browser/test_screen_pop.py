"""Screen pop end to end (issue 15 §3): a fake Asterisk AMI server rings an agent's
extension; the AMI runner turns it into a call, and the agent's desktop pops the caller's
customer with their cross-channel timeline, or, for a number never seen, a form that
completes the new customer."""

from __future__ import annotations

import asyncio

from tests.channels.cti.conftest import FakeAmi
from tests.channels.cti.test_ami import ami_inbox, runner_for
from tests.channels.cti.test_events import give_extension
from tests.conftest import inbound_payload, post_inbound
from tests.web.browser.conftest import agent_page, axe_violations

KNOWN = "+971501234567"
NEW = "+989121234567"


class TestScreenPop:
    async def test_the_ringing_agent_sees_the_caller_pop(
        self, browser, live_server, cast, client, runtime
    ):
        base = f"http://{live_server}"
        ami = FakeAmi()
        await ami.start()
        runner = runner_for(runtime, "browser")
        try:
            await give_extension(client, cast, cast.alice.id, "201")
            teams = await client.get("/api/v1/teams", headers=cast.ada.headers)
            support = next(t["id"] for t in teams.json() if t["name"] == "Support")
            sms = await post_inbound(
                client, cast.website,
                inbound_payload("w-1", KNOWN, "Where is my order 1182?", sender={"name": "Layla"}),
            )  # fmt: skip
            assert sms.status_code == 202
            await ami_inbox(runtime, ami, team_ids=[support])
            await runner.start()
            alice = await agent_page(browser, base, cast.alice)
            await asyncio.wait_for(ami.connected.wait(), 10)

            await ami.call("1733450000.17", KNOWN, "201")
            pop = alice.get_by_test_id("fd-screen-pop")
            await pop.wait_for(state="visible", timeout=15_000)
            assert await alice.get_by_test_id("fd-pop-name").text_content() == "Layla"
            item = alice.get_by_test_id("fd-pop-item").first
            assert "Where is my order 1182?" in (await item.text_content() or "")
            assert await axe_violations(alice) == []
            await alice.get_by_test_id("fd-pop-close").click()
            await pop.wait_for(state="hidden")

            # A number never seen: the pop offers to complete the new customer.
            await ami.call("1733450099.3", NEW, "201")
            await alice.get_by_test_id("fd-pop-new").wait_for(timeout=15_000)
            await alice.get_by_test_id("fd-pop-customer-name").fill("Reza")
            await alice.get_by_test_id("fd-pop-create-submit").click()
            await alice.wait_for_url(f"{base}/customers/*")
            assert "Reza" in (await alice.locator("h1").text_content() or "")
        finally:
            await runner.stop()
            await ami.stop()

    async def test_another_agents_extension_does_not_pop_here(
        self, browser, live_server, cast, client, runtime
    ):
        base = f"http://{live_server}"
        ami = FakeAmi()
        await ami.start()
        runner = runner_for(runtime, "browser")
        try:
            await give_extension(client, cast, cast.bob.id, "202")
            await ami_inbox(runtime, ami)
            await runner.start()
            ada = await agent_page(browser, base, cast.ada)  # sees every inbox
            await asyncio.wait_for(ami.connected.wait(), 10)
            await ami.call("1733450000.18", KNOWN, "202")
            await ada.wait_for_timeout(2000)
            assert await ada.get_by_test_id("fd-screen-pop").is_hidden()
        finally:
            await runner.stop()
            await ami.stop()
