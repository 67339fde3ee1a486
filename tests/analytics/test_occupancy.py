"""Occupancy on hand-built presence and task histories: the fold's arithmetic, then the same
through the database (both engines) into the summary, the agent breakdown and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from frontdesk.analytics import occupancy, service
from frontdesk.analytics.occupancy import AgentState
from frontdesk.kit import uow
from frontdesk.runtime import Runtime
from tests.conftest import Cast

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def presence(minute: float, agent_id: int, status: str, start: datetime = T0) -> dict[str, Any]:
    payload = {"agent_id": agent_id, "status": status}
    return {"type": "presence.changed", "at": start + timedelta(minutes=minute), "payload": payload}


def task(
    minute: float, kind: str, task_id: int, status: str, agent_id: int | None,
    start: datetime = T0,
) -> dict[str, Any]:  # fmt: skip
    payload = {"task_id": task_id, "status": status, "agent_id": agent_id}
    return {"type": f"task.{kind}", "at": start + timedelta(minutes=minute), "payload": payload}


def fold(*events: dict[str, Any]) -> dict[tuple[datetime, int], tuple[int, int]]:
    return occupancy.fold({}, list(events))


def totals(delta: dict[tuple[datetime, int], tuple[int, int]], agent_id: int) -> tuple[int, int]:
    rows = [value for (_, agent), value in delta.items() if agent == agent_id]
    return sum(r[0] for r in rows), sum(r[1] for r in rows)


class TestFold:
    def test_a_task_held_for_half_the_staffed_time_is_half_occupancy(self) -> None:
        delta = fold(
            presence(0, 1, "available"),
            task(10, "assigned", 7, "assigned", 1),
            task(40, "completed", 7, "completed", 1),
            presence(60, 1, "offline"),
        )
        assert totals(delta, 1) == (3600, 1800)
        assert occupancy.occupancy(*totals(delta, 1)) == 0.5

    def test_away_and_offline_time_is_not_staffed(self) -> None:
        delta = fold(
            presence(0, 1, "available"),
            presence(30, 1, "away"),  # a 30-minute break
            presence(60, 1, "available"),
            presence(90, 1, "offline"),
            presence(600, 1, "available"),  # overnight offline counts nowhere
            presence(630, 1, "offline"),
        )
        assert totals(delta, 1) == (90 * 60, 0)

    def test_busy_and_wrap_up_count_as_handling_without_a_task(self) -> None:
        delta = fold(
            presence(0, 2, "busy"),
            presence(20, 2, "after_call_work"),
            presence(30, 2, "available"),
            presence(60, 2, "offline"),
        )
        assert totals(delta, 2) == (3600, 1800)

    def test_overlapping_chats_count_once(self) -> None:
        delta = fold(
            presence(0, 1, "available"),
            task(0, "assigned", 1, "assigned", 1),
            task(10, "accepted", 2, "assigned", 1),
            task(20, "completed", 1, "completed", 1),
            task(30, "wrapping", 2, "wrapping", 1),
            task(40, "completed", 2, "completed", 1),
            presence(80, 1, "offline"),
        )
        assert totals(delta, 1) == (80 * 60, 40 * 60)

    def test_a_transfer_ends_the_first_agents_hold(self) -> None:
        delta = fold(
            presence(0, 1, "available"),
            presence(0, 2, "available"),
            task(0, "assigned", 5, "assigned", 1),
            task(15, "transferred", 5, "offered", 2),
            task(20, "accepted", 5, "assigned", 2),
            task(50, "completed", 5, "completed", 2),
            presence(60, 1, "offline"),
            presence(60, 2, "offline"),
        )
        assert totals(delta, 1) == (3600, 15 * 60)
        assert totals(delta, 2) == (3600, 30 * 60)

    def test_time_is_split_at_the_hour(self) -> None:
        delta = fold(presence(30, 3, "available"), presence(90, 3, "offline"))
        assert delta == {(T0, 3): (1800, 0), (T0 + timedelta(hours=1), 3): (1800, 0)}

    def test_folding_in_batches_gives_the_same_seconds(self) -> None:
        events = [
            presence(0, 1, "available"), task(5, "assigned", 1, "assigned", 1),
            presence(25, 1, "busy"), presence(35, 1, "available"),
            task(70, "completed", 1, "completed", 1), presence(130, 1, "offline"),
        ]  # fmt: skip
        whole = occupancy.fold({}, events)
        states: dict[int, AgentState] = {}
        parts: dict[tuple[datetime, int], list[int]] = {}
        for batch in (events[:2], events[2:5], events[5:]):
            for key, (s, h) in occupancy.fold(states, batch).items():
                row = parts.setdefault(key, [0, 0])
                row[0] += s
                row[1] += h
        assert {k: tuple(v) for k, v in parts.items()} == whole

    def test_no_staffed_time_has_no_occupancy(self) -> None:
        assert occupancy.occupancy(0, 0) is None


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class TestReports:
    async def test_summary_breakdown_and_csv_show_occupancy(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        start = today() - timedelta(days=2) + timedelta(hours=9)
        events = [
            presence(0, cast.alice.id, "available", start),
            task(0, "assigned", 91, "assigned", cast.alice.id, start),
            task(45, "completed", 91, "completed", cast.alice.id, start),
            presence(60, cast.alice.id, "offline", start),
            presence(0, cast.bob.id, "available", start),
            presence(120, cast.bob.id, "offline", start),  # two idle hours
        ]
        async with runtime.db.session() as session:
            await service.fold(session, events)
            await uow.commit(session)
        answer = await client.get("/api/v1/reports/summary", headers=cast.ada.headers)
        assert answer.status_code == 200, answer.text
        # 45 minutes handling of 3 staffed hours.
        assert answer.json()["current"]["occupancy"] == 0.25
        mine = await client.get(
            "/api/v1/reports/summary", params={"agent_id": cast.alice.id},
            headers=cast.ada.headers,
        )  # fmt: skip
        assert mine.json()["current"]["occupancy"] == 0.75
        table = await client.get(
            "/api/v1/reports/breakdown", params={"by": "agent"}, headers=cast.ada.headers
        )
        by_agent = {i["key"]: i["metrics"]["occupancy"] for i in table.json()["items"]}
        assert by_agent[str(cast.alice.id)] == 0.75
        assert by_agent[str(cast.bob.id)] == 0.0
        exported = await client.get(
            "/api/v1/reports/export.csv", params={"by": "agent"}, headers=cast.ada.headers
        )
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert {r["agent"]: r["occupancy"] for r in rows}[str(cast.alice.id)] == "0.75"

    async def test_an_agent_who_sees_some_inboxes_gets_no_occupancy(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        start = today() - timedelta(days=1)
        async with runtime.db.session() as session:
            await service.fold(session, [presence(0, cast.bob.id, "available", start),
                                         presence(60, cast.bob.id, "offline", start)])  # fmt: skip
            await uow.commit(session)
        answer = await client.get("/api/v1/reports/summary", headers=cast.alice.headers)
        assert answer.status_code == 200
        assert answer.json()["current"]["occupancy"] is None

    async def test_backfill_rebuilds_occupancy_from_the_log(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        answer = await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}", json={"presence": "available"},
            headers=cast.alice.headers,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        answer = await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}", json={"presence": "offline"},
            headers=cast.alice.headers,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        await service.catch_up_all(runtime.db)
        async with runtime.db.session() as session:
            kept = await _agent_rows(session)
            states = await _states(session)
        assert states[cast.alice.id] == "offline"
        await service.backfill(runtime.db)
        async with runtime.db.session() as session:
            assert await _agent_rows(session) == kept
            assert (await _states(session))[cast.alice.id] == "offline"


async def _agent_rows(session: Any) -> list[tuple[Any, ...]]:
    from sqlalchemy import select

    from frontdesk.analytics.models import AgentHourly

    rows = await session.execute(
        select(AgentHourly.hour, AgentHourly.agent_id, AgentHourly.staffed_seconds,
               AgentHourly.handling_seconds).order_by(AgentHourly.hour, AgentHourly.agent_id)
    )  # fmt: skip
    return [tuple(r) for r in rows.all()]


async def _states(session: Any) -> dict[int, str]:
    from frontdesk.analytics import rollup_repository

    return {k: s.status for k, s in (await rollup_repository.agent_states(session)).items()}
