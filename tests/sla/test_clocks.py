"""Clock arithmetic across pause and resume (hypothesis): the business time a clock has used
is the sum of its running stretches, and its due time is exactly the business time left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.sla import businesstime as bt
from frontdesk.sla import clocks
from frontdesk.sla.models import SlaClock
from tests.sla.test_businesstime import CALENDARS

START = datetime(2026, 3, 1, tzinfo=UTC)  # DST changes in March in New York and Berlin


def new_clock(target: int, cal: bt.Calendar) -> SlaClock:
    clock = SlaClock(kind="resolution", target_seconds=target, generation=0, state="paused")
    clocks.start(clock, START, cal)
    return clock


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(CALENDARS),
    st.integers(min_value=60, max_value=5 * 86400),
    st.lists(st.integers(min_value=1, max_value=3 * 86400), min_size=1, max_size=12),
)
def test_used_time_is_the_sum_of_running_stretches(cal, target, gaps):
    clock = new_clock(target, cal)
    at, running_since, expected = START, START, 0.0
    for gap in gaps:
        at += timedelta(seconds=gap)
        if clock.state == "running":
            assert clocks.pause(clock, at, cal)
            expected += bt.between(cal, running_since, at)
            assert clock.due_at is None
        else:
            generation = clock.generation
            assert clocks.resume(clock, at, cal)
            assert clock.generation == generation + 1
            running_since = at
            left = target - expected
            assert clock.due_at is not None
            if left > 0:
                assert bt.between(cal, at, clock.due_at) == pytest.approx(left, abs=1e-3)
            else:
                assert clock.due_at == at  # breached already: due at once
        assert clocks.used(clock, at, cal) == pytest.approx(expected, abs=1e-3)
    end = at + timedelta(hours=5)
    if clock.state == "running":
        expected += bt.between(cal, running_since, end)
    assert clocks.remaining(clock, end, cal) == pytest.approx(target - expected, abs=1e-3)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CALENDARS), st.integers(min_value=60, max_value=5 * 86400))
def test_the_warning_comes_at_80_percent(cal, target):
    clock = new_clock(target, cal)
    assert clock.warn_at is not None and clock.due_at is not None
    assert bt.between(cal, START, clock.warn_at) == pytest.approx(0.8 * target, abs=1e-3)
    assert clock.warn_at <= clock.due_at


def test_a_stopped_clock_neither_pauses_nor_resumes():
    clock = new_clock(3600, bt.ALWAYS)
    assert clocks.stop(clock, START + timedelta(minutes=10), bt.ALWAYS)
    assert clock.state == "met" and clock.elapsed_seconds == 600
    assert not clocks.pause(clock, START + timedelta(minutes=20), bt.ALWAYS)
    assert not clocks.stop(clock, START + timedelta(minutes=20), bt.ALWAYS)
    assert clocks.used(clock, START + timedelta(hours=5), bt.ALWAYS) == 600
