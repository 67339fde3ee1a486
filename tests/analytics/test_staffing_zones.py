"""Staffing's hours of the week follow a time zone: `?tz=`, or by default the zone of the
SLA calendar; across a DST change the hours move as the clocks on the wall do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from frontdesk.analytics import repository
from frontdesk.db import utcnow
from frontdesk.kit import uow
from frontdesk.runtime import Runtime
from frontdesk.sla.models import SlaCalendar, SlaPolicy
from tests.analytics.test_staffing_views import URL, history
from tests.conftest import Cast
from tests.web.test_views import log_in

BERLIN_SUMMER = datetime(2026, 10, 24, 10, 0, tzinfo=UTC)  # Saturday 12:00 CEST (UTC+2)
BERLIN_WINTER = datetime(2026, 10, 26, 10, 0, tzinfo=UTC)  # Monday 11:00 CET (UTC+1)


class TestArrivalsByLocalHour:
    async def test_a_dst_week_moves_the_local_hours(self, runtime: Runtime, cast: Cast) -> None:
        await history(runtime, cast, at=BERLIN_SUMMER, count=2, handle=60)
        await history(runtime, cast, at=BERLIN_WINTER, count=3, handle=60)
        # The clocks went back on Sunday 2026-10-25 at 03:00 CEST.
        since, until = datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
        async with runtime.db.session() as session:
            utc = await repository.arrivals_by_hour_of_week(session, since=since, until=until)
            berlin = await repository.arrivals_by_hour_of_week(
                session, since=since, until=until, zone=ZoneInfo("Europe/Berlin")
            )
        assert utc == [("api", 0, 10, 3), ("api", 5, 10, 2)]
        assert berlin == [("api", 0, 11, 3), ("api", 5, 12, 2)]

    async def test_the_night_the_clocks_go_back_counts_both_one_oclocks(
        self, runtime: Runtime, cast: Cast
    ) -> None:
        # 00:30 and 01:30 UTC on 2026-10-25 are both 02:xx in Berlin (CEST, then CET).
        await history(runtime, cast, at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC), count=1,
                      handle=60)  # fmt: skip
        await history(runtime, cast, at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC), count=1,
                      handle=60)  # fmt: skip
        since, until = datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
        async with runtime.db.session() as session:
            found = await repository.arrivals_by_hour_of_week(
                session, since=since, until=until, zone=ZoneInfo("Europe/Berlin")
            )
        assert found == [("api", 6, 2, 2)]


class TestStaffingZone:
    async def test_tz_parameter_shifts_the_intervals(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        at = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
        await history(runtime, cast, at=at, count=6, handle=180)
        utc = (await client.get(URL, headers=cast.ada.headers)).json()
        tehran = (await client.get(URL, params={"tz": "Asia/Tehran"},
                                   headers=cast.ada.headers)).json()  # fmt: skip
        assert utc["tz"] == "UTC" and tehran["tz"] == "Asia/Tehran"
        local = at.astimezone(ZoneInfo("Asia/Tehran"))
        busy_utc = [(i["day"], i["hour"]) for i in utc["intervals"] if i["arrivals_per_hour"]]
        busy_tehran = [(i["day"], i["hour"]) for i in tehran["intervals"]
                       if i["arrivals_per_hour"]]  # fmt: skip
        assert busy_utc == [(at.weekday(), at.hour)]
        assert busy_tehran == [(local.weekday(), local.hour)]

    async def test_default_is_the_sla_calendars_zone(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        async with runtime.db.session() as session:
            calendar = SlaCalendar(name="Tehran", time_zone="Asia/Tehran",
                                   hours={"sat": ["09:00-17:00"]}, holidays=[])  # fmt: skip
            session.add(calendar)
            await session.flush()
            session.add(SlaPolicy(name="Default", calendar_id=calendar.id))
            await uow.commit(session)
        body = (await client.get(URL, headers=cast.ada.headers)).json()
        assert body["tz"] == "Asia/Tehran"

    async def test_an_unknown_zone_is_refused(self, client: httpx.AsyncClient, cast: Cast) -> None:
        for zone in ("Mars/Olympus", "../etc/passwd", "America", "posixrules", "x" * 65):
            answer = await client.get(URL, params={"tz": zone}, headers=cast.ada.headers)
            assert answer.status_code == 422, zone
            assert answer.json()["error"]["code"] == "invalid"

    async def test_page_shows_and_keeps_the_zone(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await log_in(client, cast.ada)
        page = await client.get("/staffing", params={"tz": "Asia/Tehran"})
        assert page.status_code == 200
        assert "Asia/Tehran" in page.text
        assert 'data-testid="fd-staffing-tz"' in page.text
        bad = await client.get("/staffing", params={"tz": "Mars/Olympus"})
        assert 'data-testid="fd-staffing-invalid"' in bad.text
