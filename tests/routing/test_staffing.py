"""Erlang C and Erlang A from first principles, and staffing to a target."""

from __future__ import annotations

import math

import pytest

from frontdesk.analytics.staffing import erlang_a, erlang_b, erlang_c, staffing


class TestErlangC:
    def test_the_issue_example(self) -> None:
        found = erlang_c(arrivals_per_hour=100, aht=180, agents=8, threshold=20)
        assert found.service_level == pytest.approx(0.880, abs=0.0005)
        assert found.asa == pytest.approx(10.0, abs=0.05)
        assert found.occupancy == pytest.approx(5 / 8)

    def test_erlang_b_matches_the_closed_form(self) -> None:
        load, agents = 5.0, 8
        top = load**agents / math.factorial(agents)
        closed = top / sum(load**k / math.factorial(k) for k in range(agents + 1))
        assert erlang_b(load, agents) == pytest.approx(closed)

    def test_overload_never_meets_the_target(self) -> None:
        found = erlang_c(arrivals_per_hour=100, aht=180, agents=5, threshold=20)
        assert found.service_level == 0.0 and found.asa == math.inf


class TestErlangA:
    def test_endless_patience_is_erlang_c(self) -> None:
        c = erlang_c(arrivals_per_hour=100, aht=180, agents=8, threshold=20)
        a = erlang_a(arrivals_per_hour=100, aht=180, agents=8, threshold=20, patience=1e9)
        assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
        assert a.asa == pytest.approx(c.asa, rel=1e-5)
        assert a.abandon_rate == pytest.approx(0.0, abs=1e-6)

    def test_impatience_shortens_waits_and_loses_callers(self) -> None:
        c = erlang_c(arrivals_per_hour=100, aht=180, agents=8, threshold=20)
        a = erlang_a(arrivals_per_hour=100, aht=180, agents=8, threshold=20, patience=60)
        assert a.asa < c.asa
        assert 0 < a.abandon_rate < 0.1
        assert a.occupancy < c.occupancy

    def test_overload_is_stable_with_abandonment(self) -> None:
        a = erlang_a(arrivals_per_hour=200, aht=180, agents=8, threshold=20, patience=60)
        assert a.abandon_rate > 0.1
        assert a.occupancy <= 1.0


class TestStaffing:
    def test_fewest_agents_meeting_the_target(self) -> None:
        found = staffing(arrivals_per_hour=100, aht=180, threshold=20, target=0.8)
        assert found.agents == 8
        assert found.service_level >= 0.8
        fewer = erlang_c(arrivals_per_hour=100, aht=180, agents=7, threshold=20)
        assert fewer.service_level < 0.8

    def test_shrinkage_grosses_up(self) -> None:
        found = staffing(arrivals_per_hour=100, aht=180, threshold=20, target=0.8, shrinkage=0.3)
        assert found.agents == 12  # ceil(8 / 0.7)
