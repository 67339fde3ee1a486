"""First response and resolution time in business hours, on the SLA calendar of the
conversation's policy, through the database (both engines): a hand-built history across a
holiday and a weekend, with the wall-clock figure beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from frontdesk.analytics import service
from frontdesk.analytics.models import ConversationFact
from frontdesk.kit import uow
from frontdesk.runtime import Runtime
from frontdesk.sla.models import SlaCalendar, SlaClock, SlaPolicy
from tests.analytics.test_views import customer_writes
from tests.conftest import Cast

# Thursday 2026-11-05 16:00 in Tehran (UTC+03:30): the customer writes; the agent answers
# 30 minutes later; resolved Monday 2026-11-09 10:00 Tehran. Friday is a holiday, then the
# weekend: 2 business hours in all against 4 days and 18 hours on the wall clock.
WRITES = datetime(2026, 11, 5, 12, 30, tzinfo=UTC)
ANSWERS = WRITES + timedelta(minutes=30)
RESOLVED = datetime(2026, 11, 9, 6, 30, tzinfo=UTC)


def event(name: str, at: datetime, cid: int, **payload: Any) -> dict[str, Any]:
    return {"type": name, "at": at, "inbox_id": None, "conversation_id": cid, "payload": payload}


def history(cid: int) -> list[dict[str, Any]]:
    return [
        event("conversation.created", WRITES, cid),
        event("message.created", WRITES, cid, direction="inbound", author_kind="customer",
              channel="api"),
        event("message.created", ANSWERS, cid, direction="outbound", author_kind="agent",
              channel="api"),
        event("conversation.status_changed", RESOLVED, cid, **{"from": "open", "to": "resolved"}),
    ]  # fmt: skip


async def office_policy(runtime: Runtime, cid: int) -> None:
    async with runtime.db.session() as session:
        calendar = SlaCalendar(
            name="Tehran office", time_zone="Asia/Tehran",
            hours={d: ["09:00-17:00"] for d in ("sat", "sun", "mon", "tue", "wed", "thu")},
            holidays=["2026-11-06", "2026-11-07", "2026-11-08"],
        )  # fmt: skip
        session.add(calendar)
        await session.flush()
        policy = SlaPolicy(name="Office", calendar_id=calendar.id, first_response_seconds=3600)
        session.add(policy)
        await session.flush()
        session.add(
            SlaClock(conversation_id=cid, policy_id=policy.id, kind="first_response",
                     state="met", target_seconds=3600)
        )  # fmt: skip
        await uow.commit(session)


async def fold(runtime: Runtime, events: list[dict[str, Any]]) -> None:
    async with runtime.db.session() as session:
        await service.fold(session, events)
        await uow.commit(session)


async def report(client: httpx.AsyncClient, cast: Cast) -> dict[str, Any]:
    answer = await client.get(
        "/api/v1/reports/summary", params={"start": "2026-11-01", "end": "2026-11-15"},
        headers=cast.ada.headers,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["current"])


class TestBusinessHours:
    async def test_durations_follow_the_policys_calendar(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        cid = await customer_writes(client, cast.website, 1)
        await office_policy(runtime, cid)
        await fold(runtime, history(cid))
        current = await report(client, cast)
        assert current["first_response_avg_seconds"] == 30 * 60
        assert current["first_response_avg_wall_seconds"] == 30 * 60
        # Thursday 16:00-17:00, then Monday 09:00-10:00 (Friday to Sunday are days off).
        assert current["resolution_avg_seconds"] == 2 * 3600
        assert current["resolution_avg_wall_seconds"] == (RESOLVED - WRITES).total_seconds()
        async with runtime.db.session() as session:
            fact = await session.scalar(
                select(ConversationFact).where(ConversationFact.conversation_id == cid)
            )
        assert fact is not None and fact.calendar_id > 0
        assert fact.resolution_business == 2 * 3600

    async def test_without_a_policy_calendar_it_is_the_wall_clock(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        cid = await customer_writes(client, cast.website, 1)
        await fold(runtime, history(cid))
        current = await report(client, cast)
        wall = (RESOLVED - WRITES).total_seconds()
        assert current["resolution_avg_seconds"] == current["resolution_avg_wall_seconds"] == wall

    async def test_a_policy_arriving_later_refiles_the_durations_exactly(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        cid = await customer_writes(client, cast.website, 1)
        await fold(runtime, history(cid))  # no clock yet: wall clock
        await office_policy(runtime, cid)
        await fold(runtime, [event("sla.updated", RESOLVED, cid, kind="first_response",
                                   state="met", breached_at=None)])  # fmt: skip
        current = await report(client, cast)
        assert current["resolved"] == 1
        assert current["resolution_avg_seconds"] == 2 * 3600
        assert current["sla_adherence"] == 1.0
