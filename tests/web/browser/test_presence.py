"""The presence rule, live in the browser: a call the PBX says Alice answered turns her top
bar's presence control to busy, and the supervisor's agents table with it; the call's end
shows after-call work. Playwright + headless Chromium against the app on a real port (with
the job runner, as in production)."""

from __future__ import annotations

from tests.channels.cti.conftest import make_cti_inbox
from tests.channels.cti.test_events import give_extension, offered
from tests.web.browser.conftest import agent_page


class TestPresenceRule:
    async def test_a_call_moves_the_presence_control_and_the_board_live(
        self, browser, live_server, cast, client, runtime
    ):
        rule = await client.patch(
            "/api/v1/routing/presence-rule", json={"enabled": True}, headers=cast.ada.headers
        )
        assert rule.status_code == 200
        pbx = await make_cti_inbox(runtime)
        await give_extension(client, cast, cast.alice.id, "201")
        alice = await agent_page(browser, f"http://{live_server}", cast.alice)  # available
        assert await alice.get_by_test_id("fd-presence").input_value() == "available"
        sara = await agent_page(browser, f"http://{live_server}", cast.sara)
        await sara.goto(f"http://{live_server}/supervisor")
        row = f"[data-testid=fd-agent-row][data-agent-id='{cast.alice.id}']"
        await sara.wait_for_selector(f"{row}[data-presence='available']")
        answered = await pbx.post(client, {**offered(), "event": "answered"})
        assert answered.status_code == 202, answered.text
        await alice.wait_for_function(
            "() => document.getElementById('fd-presence').value === 'busy'", timeout=15_000
        )
        await sara.wait_for_selector(f"{row}[data-presence='busy']", timeout=15_000)
        ended = await pbx.post(client, {**offered(), "event": "ended"})
        assert ended.status_code == 202, ended.text
        await alice.wait_for_function(
            "() => document.getElementById('fd-presence').value === 'after_call_work'",
            timeout=15_000,
        )
        await sara.wait_for_selector(f"{row}[data-presence='after_call_work']", timeout=15_000)
