"""The staffing planner per hour of week, against the issue's Erlang reference values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frontdesk.analytics.planner import Parameters, build, servers_needed, window
from frontdesk.analytics.staffing import erlang_c

SINCE = datetime(2026, 11, 2, tzinfo=UTC)
UNTIL = datetime(2026, 11, 30, tzinfo=UTC)


def plan_for(
    arrivals: list[tuple[str, int, int, int]],
    handled: dict[str, tuple[float, int]] | None = None,
    **parameters: object,
):  # type: ignore[no-untyped-def]
    settings = {"weeks": 1, "shrinkage": 0.0, "aht": 180.0, **parameters}
    return build(
        Parameters(**settings),  # type: ignore[arg-type]
        arrivals=arrivals,
        handled=handled or {},
        since=SINCE,
        until=UNTIL,
    )


class TestReferenceValues:
    """80 % in 20 s, AHT 180 s (issue 13's proof)."""

    @pytest.mark.parametrize(
        ("per_hour", "agents", "service_level", "asa"),
        [(100, 8, 0.880, 10.0), (1000, 56, 0.841, 9.3), (10000, 510, 0.819, 9.9)],
    )
    def test_erlang_c_per_interval(
        self, per_hour: int, agents: int, service_level: float, asa: float
    ) -> None:
        plan = plan_for([("voice", 2, 14, per_hour)])  # Wednesday 14:00
        hour = plan.intervals[2 * 24 + 14]
        assert (hour.day, hour.hour) == (2, 14)
        assert hour.arrivals_per_hour == per_hour
        assert hour.agents == agents
        assert hour.service_level == pytest.approx(service_level, abs=0.0005)
        assert hour.asa == pytest.approx(asa, abs=0.05)
        assert servers_needed(per_hour, 180.0, 20.0, 0.8, None).agents == agents
        # One fewer would miss the target.
        fewer = erlang_c(arrivals_per_hour=per_hour, aht=180, agents=agents - 1, threshold=20)
        assert fewer.service_level < 0.8

    def test_erlang_a_with_patience(self) -> None:
        plan = plan_for([("voice", 0, 9, 100)], patience=120.0)
        hour = plan.intervals[9]
        assert hour.agents == 7
        assert hour.abandon_rate == pytest.approx(0.060, abs=0.0005)
        assert hour.service_level == pytest.approx(0.846, abs=0.0005)

    def test_rates_are_averaged_over_the_weeks(self) -> None:
        plan = plan_for([("voice", 4, 10, 4000)], weeks=4)  # 4 Fridays: 1000 an hour
        assert plan.intervals[4 * 24 + 10].arrivals_per_hour == 1000
        assert plan.intervals[4 * 24 + 10].agents == 56


class TestShrinkageAndConcurrency:
    def test_shrinkage_counts_rostered_agents(self) -> None:
        plan = plan_for([("voice", 0, 9, 1000)], shrinkage=0.3)
        hour = plan.intervals[9]
        assert hour.on_floor == 56
        assert hour.agents == 80  # ceil(56 / 0.7)

    def test_chat_agents_hold_several_conversations(self) -> None:
        plan = plan_for([("webchat", 0, 9, 100), ("voice", 0, 9, 100)], concurrency=2)
        hour = plan.intervals[9]
        assert hour.by_channel["webchat"]["servers"] == 8
        assert hour.by_channel["webchat"]["agents"] == 4
        assert hour.by_channel["voice"]["agents"] == 8  # a call is one at a time
        assert hour.on_floor == hour.agents == 12
        assert hour.arrivals_per_hour == 200
        assert {c.channel: c.concurrency for c in plan.channels} == {"voice": 1, "webchat": 2}

    def test_quiet_hours_need_nobody(self) -> None:
        plan = plan_for([("voice", 0, 9, 100)])
        assert len(plan.intervals) == 168
        quiet = plan.intervals[10]
        assert quiet.agents == 0 and quiet.service_level is None
        assert plan.peak_agents == 8 and plan.agent_hours == 8


class TestHandleTimes:
    def test_measured_default_and_override(self) -> None:
        arrivals = [("email", 0, 9, 10), ("voice", 0, 9, 10), ("webchat", 0, 9, 10)]
        handled = {"voice": (240.0, 30), "webchat": (600.0, 2)}
        plan = plan_for(arrivals, handled, aht=None, default_aht=300.0)
        sources = {c.channel: (c.aht, c.aht_source, c.handled) for c in plan.channels}
        assert sources == {
            "email": (300.0, "default", 0),
            "voice": (240.0, "measured", 30),
            "webchat": (300.0, "default", 2),  # too few tasks to trust
        }
        overridden = plan_for(arrivals, handled, aht=90.0)
        assert {c.aht_source for c in overridden.channels} == {"override"}

    def test_channel_filter(self) -> None:
        plan = plan_for([("email", 0, 9, 10), ("voice", 0, 9, 10)], channels=("voice",))
        assert [c.channel for c in plan.channels] == ["voice"]
        assert plan.intervals[9].arrivals_per_hour == 10


def test_window_is_whole_weeks_ending_this_hour() -> None:
    since, until = window(2, datetime(2026, 12, 5, 14, 37, 12, tzinfo=UTC))
    assert until == datetime(2026, 12, 5, 14, tzinfo=UTC)
    assert since == datetime(2026, 11, 21, 14, tzinfo=UTC)
