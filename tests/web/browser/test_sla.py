"""A breach countdown on a conversation turns into a breach live: the badge ticks down, and
when the breach job fires the sla.breached event reaches the open page over the events
socket and the badge says "breached" without a reload (axe clean, also right to left)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from frontdesk.kit.jobs import Job
from frontdesk.runtime import Runtime
from frontdesk.sla.service import BREACH_JOB
from tests.sla.helpers import customer_writes, events_of, make_due, make_policy
from tests.web.browser.conftest import agent_page, axe_violations, choose_language, live

# The conversation pane's clock (the list beside it shows the same clock on its row).
FIRST = "#fd-pane [data-testid=fd-sla][data-sla-kind=first_response]"


async def wait_for_jobs(runtime: Runtime, kind: str) -> None:
    """The background runner has scheduled the clocks (the breach job exists)."""
    for _ in range(200):
        async with runtime.db.session() as session:
            if await session.scalar(select(Job.id).where(Job.kind == kind)):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} job")


class TestBreachCountdown:
    async def test_a_countdown_turns_into_a_breach_live(
        self, browser, live_server, cast, client, runtime
    ):
        base = f"http://{live_server}"
        await make_policy(client, cast, first_response_seconds=3600, resolution_seconds=None)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await wait_for_jobs(runtime, BREACH_JOB)
        ada = await agent_page(browser, base, cast.ada)
        await ada.goto(f"{base}/conversations/{conversation_id}")
        await live(ada)
        badge = ada.locator(FIRST)
        await badge.wait_for()
        assert await badge.get_attribute("data-sla-state") == "running"
        # It ticks: the text is a countdown (H:MM:SS) that changes second by second.
        await ada.wait_for_function(
            "sel => /\\d+:\\d\\d:\\d\\d/.test(document.querySelector(sel).textContent)", arg=FIRST
        )
        first = await badge.text_content()
        await ada.wait_for_function(
            "([sel, was]) => document.querySelector(sel).textContent !== was", arg=[FIRST, first]
        )
        assert await axe_violations(ada) == []
        # A marker on the window: it survives only if the page is never reloaded.
        await ada.evaluate("window.fdMarker = 'still here'")
        await make_due(runtime, BREACH_JOB)  # the clock jumps to the due instant
        await ada.wait_for_selector(f"{FIRST}[data-sla-state=breached]", timeout=20_000)
        assert "breached" in (await badge.text_content() or "")
        assert await ada.evaluate("window.fdMarker") == "still here"
        assert len(await events_of(runtime, "sla.breached")) == 1
        assert await axe_violations(ada) == []
        # The inbox list shows the breach too.
        await ada.goto(f"{base}/")
        row = ada.locator(
            f"[data-testid=fd-conversation-row][data-conversation-id='{conversation_id}'] "
            "[data-testid=fd-sla]"
        )
        assert await row.get_attribute("data-sla-state") == "breached"

    async def test_persian_countdown_right_to_left(
        self, browser, live_server, cast, client, runtime
    ):
        base = f"http://{live_server}"
        await make_policy(client, cast, first_response_seconds=3600, resolution_seconds=None)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await wait_for_jobs(runtime, BREACH_JOB)
        ada = await agent_page(browser, base, cast.ada)
        await choose_language(ada, "fa")
        # The choice is saved and the page reloads in Persian before we move on.
        await ada.wait_for_function("() => document.documentElement.dir === 'rtl'")
        await ada.goto(f"{base}/conversations/{conversation_id}")
        await live(ada)
        assert await ada.evaluate("document.documentElement.dir") == "rtl"
        # Persian digits in the countdown.
        await ada.wait_for_function(
            # Extended Arabic-Indic digits U+06F0..U+06F9.
            "sel => /[\\u06f0-\\u06f9]+:[\\u06f0-\\u06f9]{2}:[\\u06f0-\\u06f9]{2}/"
            ".test(document.querySelector(sel).textContent)",
            arg=FIRST,
        )
        assert "نخستین پاسخ" in (await ada.locator(FIRST).text_content() or "")
        assert await axe_violations(ada) == []
        for path in ("policies", "calendars"):
            await ada.goto(f"{base}/settings/sla/{path}")
            assert await axe_violations(ada) == [], path
