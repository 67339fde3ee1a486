"""Settings → SLA (calendars, policies) in the desktop, and the countdown badges on the
conversation, the inbox list and My work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from frontdesk.db import utcnow
from frontdesk.kit.jobs import Job
from frontdesk.sla.models import SlaClock
from frontdesk.sla.service import WARN_JOB
from tests.conftest import run_jobs
from tests.sla.helpers import agent_replies, customer_writes, make_policy
from tests.web.test_views import csrf_of, log_in
from tests.web.test_work import page

WEEK = {f"hours_{d}": "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


class TestSettings:
    @pytest.mark.parametrize("who", ["alice", "sara"])
    async def test_only_admins(self, client, cast, who):
        await log_in(client, getattr(cast, who))
        for path in ("policies", "calendars"):
            assert (await client.get(f"/settings/sla/{path}")).status_code == 403
        csrf = csrf_of(await page(client, "/"))
        posted = await client.post("/settings/sla/calendars", data={"csrf": csrf, "name": "x"})
        assert posted.status_code == 403

    async def test_a_friday_saturday_calendar_and_a_policy_from_the_forms(self, client, cast):
        await log_in(client, cast.ada)
        html = await page(client, "/settings")
        assert 'href="/settings/sla/policies"' in html
        csrf = csrf_of(await page(client, "/settings/sla/calendars"))
        hours = {**WEEK, **{f"hours_{d}": "09:00-17:00" for d in ("sun", "mon", "tue", "wed")},
                 "hours_thu": "09:00-13:00, 14:00-16:00"}  # fmt: skip
        saved = await client.post(
            "/settings/sla/calendars",
            data={"csrf": csrf, "name": "Riyadh", "time_zone": "Asia/Riyadh",
                  "holidays": "2026-09-23", **hours},
        )  # fmt: skip
        assert saved.status_code == 303, saved.text
        [calendar] = (await client.get("/api/v1/sla/calendars", headers=cast.ada.headers)).json()
        assert calendar["hours"]["fri"] == [] and calendar["hours"]["sat"] == []
        assert calendar["hours"]["thu"] == ["09:00-13:00", "14:00-16:00"]
        assert calendar["holidays"] == ["2026-09-23"]
        saved = await client.post(
            "/settings/sla/policies",
            data={"csrf": csrf, "name": "Arabic team", "position": "10", "channels": "api",
                  "priorities": ["high", "urgent"], "first_response_minutes": "30",
                  "resolution_minutes": "480", "calendar_id": str(calendar["id"]),
                  "priority_boost": "2"},
        )  # fmt: skip
        assert saved.status_code == 303, saved.text
        [policy] = (await client.get("/api/v1/sla/policies", headers=cast.ada.headers)).json()
        assert policy["first_response_seconds"] == 1800
        assert policy["resolution_seconds"] == 8 * 3600
        assert policy["priorities"] == ["high", "urgent"]
        assert policy["calendar_id"] == calendar["id"] and policy["priority_boost"] == 2
        listed = await page(client, "/settings/sla/policies")
        assert "Arabic team" in listed

    async def test_bad_input_shows_the_problem_and_keeps_the_form(self, client, cast):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/settings/sla/calendars"))
        answer = await client.post(
            "/settings/sla/calendars",
            data={"csrf": csrf, "name": "Broken", "time_zone": "Nowhere/City", **WEEK,
                  "hours_mon": "09:00-17:00"},
        )  # fmt: skip
        assert answer.status_code == 422
        assert 'data-testid="fd-sla-problem"' in answer.text
        assert 'value="Nowhere/City"' in answer.text
        answer = await client.post("/settings/sla/policies", data={"csrf": csrf, "name": "Nothing"})
        assert answer.status_code == 422
        assert 'data-code="no_target"' in answer.text

    async def test_pages_in_arabic_are_right_to_left_and_translated(self, client, cast):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/"))
        await client.post("/me/language", data={"csrf": csrf, "language": "ar"})
        html = await page(client, "/settings/sla/calendars")
        assert 'dir="rtl"' in html and "الجمعة" in html  # Friday
        html = await page(client, "/settings/sla/policies")
        assert "سياسات" in html


class TestCountdowns:
    async def test_badges_on_the_conversation_the_inbox_and_after_a_reply(
        self, client, cast, runtime
    ):
        await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await log_in(client, cast.ada)
        html = await page(client, f"/conversations/{conversation_id}")
        assert 'data-sla-kind="first_response"' in html and 'data-sla-state="running"' in html
        rows = await page(client, "/")
        assert f'data-sla-conversation="{conversation_id}"' in rows
        await agent_replies(client, cast, runtime, conversation_id)
        fragment = await page(client, f"/conversations/{conversation_id}/sla")
        assert 'data-sla-kind="first_response" data-sla-state="met"' in fragment
        assert 'data-sla-kind="resolution" data-sla-state="paused"' in fragment

    async def test_the_full_page_shows_the_open_conversations_clocks_in_or_out_of_the_list(
        self, client, cast, runtime
    ):
        """The full page reads the open conversation's clocks with the list's rows: they show
        in its SLA block whether the list (open conversations) holds it or not."""
        await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")
        await log_in(client, cast.ada)

        def clocks(html: str) -> str:
            return html.split('id="fd-sla"', 1)[1].split("</div>", 1)[0]

        listed = clocks(await page(client, f"/conversations/{conversation_id}"))
        assert 'data-sla-kind="first_response" data-sla-state="running"' in listed
        # The list shows resolved conversations, this one's not among them: still its clocks.
        elsewhere = clocks(await page(client, f"/conversations/{conversation_id}?status=resolved"))
        assert 'data-sla-kind="first_response" data-sla-state="running"' in elsewhere
        assert f'data-sla-conversation="{conversation_id}"' in elsewhere

    async def test_the_fragment_checks_who_may_see_the_conversation(self, client, cast, runtime):
        await make_policy(client, cast)
        conversation_id = await customer_writes(client, cast, runtime, "m1")  # website inbox
        await log_in(client, cast.bob)  # Billing: serves the app inbox only
        answer = await client.get(f"/conversations/{conversation_id}/sla")
        assert answer.status_code == 404


class TestSupervisor:
    async def test_at_risk_conversations_are_listed_for_supervisors(self, client, cast, runtime):
        await make_policy(client, cast, first_response_seconds=4 * 3600)
        calm = await customer_writes(client, cast, runtime, "m1")
        risky = await customer_writes(
            client, cast, runtime, "m2", address="omar@example.org", inbox=cast.app
        )
        await log_in(client, cast.sara)
        html = await page(client, "/supervisor")
        assert 'data-testid="fd-sla-risk-row"' not in html
        # Omar's warning fires (80 % of the first response used).
        async with runtime.db.session() as session:
            await session.execute(
                update(Job)
                .where(Job.kind == WARN_JOB, Job.payload["clock_id"].as_integer().in_(
                    select(SlaClock.id).where(SlaClock.conversation_id == risky)
                ))
                .values(run_at=utcnow() - timedelta(seconds=1))
            )  # fmt: skip
            await session.commit()
        await run_jobs(runtime)
        html = await page(client, "/supervisor")
        assert f'data-testid="fd-sla-risk-row" data-conversation-id="{risky}"' in html
        assert f'data-testid="fd-sla-risk-row" data-conversation-id="{calm}"' not in html
