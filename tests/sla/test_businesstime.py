"""Business-time arithmetic: weekends, holidays, time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.sla import businesstime as bt

NINE_TO_FIVE = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
# The Arabic team: Sunday to Thursday, Friday/Saturday weekend, a split day on Thursday.
RIYADH = bt.calendar(
    "Asia/Riyadh",
    {
        **{d: ["08:00-16:00"] for d in ("sun", "mon", "tue", "wed")},
        "thu": ["08:00-12:00", "13:00-15:00"],
    },
    ["2026-03-19"],
)
NEW_YORK = bt.calendar("America/New_York", NINE_TO_FIVE, ["2026-12-25"])
BERLIN_NIGHTS = bt.calendar(
    "Europe/Berlin", {d: ["00:00-04:00", "22:00-24:00"] for d in bt.WEEKDAYS}
)
TEHRAN_FRIDAY = bt.calendar(
    "Asia/Tehran", {d: ["09:00-17:00"] for d in ("sat", "sun", "mon", "tue", "wed", "thu")}
)
CALENDARS = [bt.ALWAYS, RIYADH, NEW_YORK, BERLIN_NIGHTS, TEHRAN_FRIDAY]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
spans = st.integers(min_value=0, max_value=30 * 86400)
calendars = st.sampled_from(CALENDARS)


class TestAdd:
    def test_always_is_plain_elapsed_time(self):
        start = utc(2026, 3, 8, 5, 0)
        assert bt.add(bt.ALWAYS, start, 7200) == start + timedelta(hours=2)

    def test_skips_the_night_and_the_weekend(self):
        # Friday 16:00 New York + 2 business hours = Monday 10:00 New York.
        friday_4pm = datetime(2026, 1, 9, 16, 0, tzinfo=ZoneInfo("America/New_York"))
        due = bt.add(NEW_YORK, friday_4pm.astimezone(UTC), 7200)
        assert due.astimezone(ZoneInfo("America/New_York")) == datetime(
            2026, 1, 12, 10, 0, tzinfo=ZoneInfo("America/New_York")
        )

    def test_friday_saturday_weekend(self):
        # Thursday 14:00 Riyadh (UTC+3) + 2 h: 1 h left on Thursday, then Sunday 09:00.
        due = bt.add(RIYADH, utc(2026, 1, 8, 11, 0), 7200)
        assert due == utc(2026, 1, 11, 6, 0)

    def test_friday_weekend_works_saturday(self):
        # Thursday 16:30 Tehran (UTC+3:30) + 1 h: Saturday 09:30 (Friday is the weekend).
        due = bt.add(TEHRAN_FRIDAY, utc(2026, 1, 8, 13, 0), 3600)
        assert due.astimezone(ZoneInfo("Asia/Tehran")).replace(tzinfo=None) == datetime(
            2026, 1, 10, 9, 30
        )

    def test_skips_a_holiday(self):
        # 2026-03-19 is a Thursday holiday in RIYADH: Wednesday 15:00 + 2 h → Sunday 09:00.
        due = bt.add(RIYADH, utc(2026, 3, 18, 12, 0), 7200)
        assert due == utc(2026, 3, 22, 6, 0)

    def test_christmas_in_new_york(self):
        due = bt.add(NEW_YORK, utc(2026, 12, 24, 21, 30), 3600)  # Thu 16:30 EST + 1 h
        assert due == utc(2026, 12, 28, 14, 30)  # Monday 09:30 EST (Fri 25th a holiday)

    def test_working_day_across_spring_forward(self):
        # US DST starts Sunday 2026-03-08; a 09:00-17:00 day is 8 business hours either side.
        friday_5pm_est = utc(2026, 3, 6, 22, 0)
        due = bt.add(NEW_YORK, friday_5pm_est, 8 * 3600)
        assert due == utc(2026, 3, 9, 21, 0)  # Monday 17:00 EDT (UTC-4)

    def test_night_shift_across_spring_forward(self):
        # Berlin skips 02:00-03:00 on 2026-03-29: 00:00-04:00 that night is 3 real hours.
        midnight = datetime(2026, 3, 29, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
        four = datetime(2026, 3, 29, 4, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
        assert bt.between(BERLIN_NIGHTS, midnight, four) == 3 * 3600

    def test_night_shift_across_fall_back(self):
        # Berlin repeats 02:00-03:00 on 2026-10-25: 00:00-04:00 that night is 5 real hours.
        midnight = datetime(2026, 10, 25, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
        four = datetime(2026, 10, 25, 4, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
        assert bt.between(BERLIN_NIGHTS, midnight, four) == 5 * 3600

    def test_a_calendar_without_working_time_raises(self):
        closed = bt.calendar("UTC", {})
        with pytest.raises(bt.NoBusinessTime):
            bt.add(closed, utc(2026, 1, 1), 60)


class TestBetween:
    def test_counts_only_working_hours(self):
        # Monday 08:00 to Tuesday 10:00 New York (EST): 8 h Monday + 1 h Tuesday.
        assert bt.between(NEW_YORK, utc(2026, 1, 12, 13, 0), utc(2026, 1, 13, 15, 0)) == 9 * 3600

    def test_weekend_counts_nothing(self):
        assert bt.between(RIYADH, utc(2026, 1, 9, 0, 0), utc(2026, 1, 10, 23, 0)) == 0

    def test_backwards_is_zero(self):
        assert bt.between(NEW_YORK, utc(2026, 1, 13), utc(2026, 1, 12)) == 0


class TestParsing:
    @pytest.mark.parametrize("text", ["9-17", "17:00-09:00", "09:00-24:01", "09:60-10:00", "x"])
    def test_refuses_bad_ranges(self, text):
        with pytest.raises(ValueError):
            bt.parse_interval(text)

    def test_refuses_overlaps(self):
        with pytest.raises(ValueError):
            bt.day_intervals(["09:00-13:00", "12:00-17:00"])

    def test_round_trips(self):
        assert bt.format_interval(bt.parse_interval("08:30-24:00")) == "08:30-24:00"


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(calendars, instants, spans)
    def test_between_inverts_add(self, cal, start, seconds):
        assert bt.between(cal, start, bt.add(cal, start, seconds)) == pytest.approx(
            seconds, abs=1e-3
        )

    @settings(max_examples=200, deadline=None)
    @given(calendars, instants, spans, spans)
    def test_add_is_monotonic_and_composes(self, cal, start, a, b):
        first = bt.add(cal, start, a)
        assert first >= start
        assert bt.add(cal, start, a + b) >= first
        # Adding a then b is adding a + b, except that add(x, 0) stays put outside hours.
        if b:
            assert bt.add(cal, first, b) == bt.add(cal, start, a + b)

    @settings(max_examples=200, deadline=None)
    @given(calendars, instants, spans, spans)
    def test_between_is_additive(self, cal, start, a, b):
        middle = start + timedelta(seconds=a)
        end = middle + timedelta(seconds=b)
        assert bt.between(cal, start, middle) + bt.between(cal, middle, end) == pytest.approx(
            bt.between(cal, start, end), abs=1e-3
        )

    @settings(max_examples=200, deadline=None)
    @given(calendars, instants, st.integers(min_value=1, max_value=30 * 86400))
    def test_lands_inside_working_time(self, cal, start, seconds):
        due = bt.add(cal, start, seconds)
        local = (due - timedelta(microseconds=1)).astimezone(cal.zone)
        assert local.date() not in cal.holidays
        assert bt.is_open(cal, due - timedelta(microseconds=1))

    @settings(max_examples=100, deadline=None)
    @given(instants, spans)
    def test_no_business_time_on_weekends_or_holidays(self, start, seconds):
        end = start + timedelta(seconds=seconds)
        counted = bt.between(RIYADH, start, end)
        working = sum(
            (min(e, end) - max(s, start)).total_seconds()
            for s, e in _brute_intervals(RIYADH, start, end)
        )
        assert counted == pytest.approx(working, abs=1e-3)

    @settings(max_examples=100, deadline=None)
    @given(instants, spans)
    def test_always_in_a_dst_zone_is_elapsed_time(self, start, seconds):
        berlin_always = bt.calendar("Europe/Berlin", {d: ["00:00-24:00"] for d in bt.WEEKDAYS})
        assert bt.add(berlin_always, start, seconds) == start + timedelta(seconds=seconds)


def _brute_intervals(cal: bt.Calendar, start: datetime, end: datetime):
    """Working intervals by walking every minute's wall clock (slow and obviously right)."""
    day = start.astimezone(cal.zone).date() - timedelta(days=1)
    last = end.astimezone(cal.zone).date() + timedelta(days=1)
    while day <= last:
        if day not in cal.holidays:
            for first, final in cal.hours[day.weekday()]:
                s = datetime.combine(day, datetime.min.time(), cal.zone) + timedelta(minutes=first)
                e = datetime.combine(day, datetime.min.time(), cal.zone) + timedelta(minutes=final)
                s, e = s.astimezone(UTC), e.astimezone(UTC)
                if min(e, end) > max(s, start):
                    yield s, e
        day += timedelta(days=1)


def test_holiday_dates_parse():
    assert date(2026, 3, 19) in RIYADH.holidays
