"""The coarser rollups: each holds exactly the full rollups' sums over fewer dimensions, and a
report read from whichever table `pick` chooses equals the same report computed directly from
the full hourly rows (on SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from frontdesk.analytics import report_repository, reports, service
from frontdesk.analytics import rollup_repository as repository
from frontdesk.analytics.models import DIMENSIONS, HOUR_COLUMNS, MEASURES
from frontdesk.analytics.schemas import ReportFilters
from frontdesk.db import utcnow
from frontdesk.runtime import Runtime
from tests.analytics.test_views import change, customer_writes, history, reply
from tests.conftest import Cast

Rows = dict[tuple[Any, ...], dict[str, int]]


def project(full: Rows, names: tuple[str, ...], *, daily: bool) -> Rows:
    """The full rows summed over the dimensions `names` leaves out (the direct computation)."""
    positions = [DIMENSIONS.index(name) for name in names]
    found: Rows = {}
    for key, row in full.items():
        short = tuple(key[i] for i in positions)
        if daily:
            short = (short[0].replace(hour=0), *short[1:])
        target = found.setdefault(short, {})
        for name, value in row.items():
            target[name] = target.get(name, 0) + value
    return {
        key: {n: v for n, v in row.items() if v} for key, row in found.items() if any(row.values())
    }


async def varied_history(client: httpx.AsyncClient, cast: Cast) -> None:
    """The shared history, then a conversation moved to another team and agent, one tagged
    twice, and replies from both agents."""
    ids = await history(client, cast)
    await change(client, cast.ada, ids[2], team_id=None, assignee_id=cast.alice.id)
    await change(client, cast.ada, ids[3], assignee_id=cast.bob.id, tags=["vip", "refund"])
    await reply(client, cast.bob, ids[3])
    await customer_writes(client, cast.app, 5)


async def assert_tables_match(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        hourly = await repository.rollup_rows(session)
        daily = await repository.rollup_rows(session, daily=True)
        assert project(hourly, DIMENSIONS, daily=True) == daily
        for cube in repository.CUBES:
            kept = await repository.rollup_rows(session, table=cube.table.name)
            assert kept == project(hourly, cube.names, daily=cube.daily), cube.table.name
            assert kept, cube.table.name


class TestCoarserTables:
    async def test_each_table_sums_the_full_rollups(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await history(client, cast)
        await service.catch_up_all(runtime.db)  # part of it incrementally...
        await varied_history(client, cast)
        await service.catch_up_all(runtime.db)  # ...then the moves are taken back and refiled
        await assert_tables_match(runtime)

    async def test_backfill_rebuilds_the_same_tables(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await varied_history(client, cast)
        await service.catch_up_all(runtime.db)
        async with runtime.db.session() as session:
            before = {
                cube.table.name: await repository.rollup_rows(session, table=cube.table.name)
                for cube in repository.CUBES
            }
        await service.backfill(runtime.db)
        async with runtime.db.session() as session:
            for cube in repository.CUBES:
                name = cube.table.name
                assert await repository.rollup_rows(session, table=name) == before[name]


def matches(key: tuple[Any, ...], f: ReportFilters, *, per_tag: bool) -> bool:
    hour, inbox_id, channel, team_id, agent_id, tag_id = key
    return (
        (tag_id > 0 if per_tag and f.tag_id is None else tag_id == (f.tag_id or 0))
        and f.start <= hour < f.end
        and (not f.channel or channel == f.channel)
        and (not f.inbox_id or inbox_id == f.inbox_id)
        and (f.team_id is None or team_id == f.team_id)
        and (f.agent_id is None or agent_id == f.agent_id)
        and (f.inbox_ids is None or inbox_id in f.inbox_ids)
    )


def direct(
    full: Rows, f: ReportFilters, by: str | None, *, daily: bool
) -> dict[Any, dict[str, int]]:
    """Sums per value of `by` (None: one group) of the full hourly rows the filters keep."""
    found: dict[Any, dict[str, int]] = {}
    for key, row in full.items():
        if not matches(key, f, per_tag=by == "tag_id"):
            continue
        group = None if by is None else key[DIMENSIONS.index(by)]
        if by == "hour" and daily:
            group = group.replace(hour=0)
        target = found.setdefault(group, dict.fromkeys(MEASURES, 0))
        for name, value in row.items():
            target[name] += value
    return found


def cases(cast: Cast, tag_id: int) -> list[ReportFilters]:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    days = ReportFilters(start=today - timedelta(days=27), end=today + timedelta(days=1))
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    hours = ReportFilters(start=hour - timedelta(hours=5), end=hour + timedelta(hours=1))
    found = []
    for period in (days, hours):
        found += [
            period,
            ReportFilters(start=period.start, end=period.end, channel="api"),
            ReportFilters(start=period.start, end=period.end, inbox_id=cast.website.id),
            ReportFilters(start=period.start, end=period.end, inbox_ids=frozenset({cast.app.id})),
            ReportFilters(start=period.start, end=period.end, inbox_ids=frozenset()),
            ReportFilters(start=period.start, end=period.end, team_id=0),
            ReportFilters(start=period.start, end=period.end, agent_id=cast.alice.id),
            ReportFilters(start=period.start, end=period.end, tag_id=tag_id),
            ReportFilters(start=period.start, end=period.end, tag_id=tag_id,
                          inbox_ids=frozenset({cast.app.id}), agent_id=cast.bob.id),
        ]  # fmt: skip
    return found


def ever(f: ReportFilters) -> ReportFilters:
    """The backlog counts what is open now, whenever it was opened."""
    return replace(f, start=datetime.min.replace(tzinfo=UTC), end=datetime.max.replace(tzinfo=UTC))


class TestReportsFromThePickedTable:
    async def test_sums_and_groups_equal_the_direct_computation(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await varied_history(client, cast)
        await service.catch_up_all(runtime.db)
        async with runtime.db.session() as session:
            full = await repository.rollup_rows(session)
            vip = (await report_repository.tag_ids_by_name(session, ["vip"]))["vip"]
            compared = 0
            for f in cases(cast, vip):
                whole = report_repository.whole_days(f)
                expected = direct(full, f, None, daily=whole).get(None, dict.fromkeys(MEASURES, 0))
                assert await report_repository.totals(session, f) == expected, f
                for by in ("hour", "channel", "inbox_id", "team_id", "agent_id", "tag_id"):
                    got = dict(await report_repository.grouped(session, f, by, list(MEASURES)))
                    assert got == direct(full, f, by, daily=whole), (f, by)
                    compared += len(got)
            assert compared > 50  # the history is in the periods, not compared as empty

    async def test_heat_map_and_backlog_equal_the_direct_computation(
        self, client: httpx.AsyncClient, cast: Cast, runtime: Runtime
    ) -> None:
        await varied_history(client, cast)
        await service.catch_up_all(runtime.db)
        async with runtime.db.session() as session:
            full = await repository.rollup_rows(session)
            vip = (await report_repository.tag_ids_by_name(session, ["vip"]))["vip"]
            for f in cases(cast, vip):
                cells = [[0] * 24 for _ in range(7)]
                opened = 0
                for key, row in full.items():
                    if matches(key, f, per_tag=False):
                        hour: datetime = key[0]
                        cells[hour.weekday()][hour.hour] += row.get("created", 0)
                        assert row.get(HOUR_COLUMNS[hour.hour], 0) == row.get("created", 0)
                    if matches(key, ever(f), per_tag=False):
                        opened += row.get("open_now", 0)
                assert (await reports.heatmap(session, f)).cells == cells, f
                assert (await reports.backlog(session, f)).open == opened, f

    async def test_unfiltered_reports_read_the_smallest_tables(self) -> None:
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        days = ReportFilters(start=today - timedelta(days=28), end=today)
        hours = ReportFilters(start=today, end=today + timedelta(hours=5))
        assert report_repository.pick(days, daily=True).name == "analytics_daily_tag"
        assert report_repository.pick(hours, daily=True).name == "analytics_hourly_tag"
        assert report_repository.pick(days, daily=True, by=["tag_id"]).name == "analytics_daily_tag"
        agent = ReportFilters(start=days.start, end=days.end, inbox_ids=frozenset({1}))
        assert report_repository.pick(agent, daily=True).name == "analytics_daily_inbox"
        assert (
            report_repository.pick(days, daily=True, by=["agent_id"]).name
            == "analytics_daily_agent"
        )
        assert report_repository.pick(agent, daily=True, by=["agent_id"]).name == "analytics_daily"
        assert (
            report_repository.pick(agent, daily=False, by=["agent_id"]).name == "analytics_hourly"
        )
