"""The simulator drives the real router and agrees with queueing theory."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from frontdesk.analytics.staffing import erlang_a, erlang_c
from frontdesk.cli import app
from frontdesk.routing.simulator import Simulation


class TestAgainstTheory:
    def test_the_issue_example_matches_erlang_c(self) -> None:
        # The issue's own run (2000 simulated hours, seed 1): about 200,000 calls, ~2 s.
        theory = erlang_c(arrivals_per_hour=100, aht=180, agents=8, threshold=20)
        found = Simulation(100, 180, 8, 20, 2000, seed=1).run()
        assert abs(found.service_level - theory.service_level) <= 0.005
        assert found.asa == pytest.approx(theory.asa, rel=0.04)
        assert found.occupancy == pytest.approx(theory.occupancy, abs=0.01)
        assert found.abandon_rate == 0.0

    def test_with_patience_matches_erlang_a(self) -> None:
        theory = erlang_a(arrivals_per_hour=100, aht=180, agents=8, threshold=20, patience=60)
        found = Simulation(100, 180, 8, 20, 1000, seed=2, patience=60).run()
        assert abs(found.service_level - theory.service_level) <= 0.01
        assert abs(found.abandon_rate - theory.abandon_rate) <= 0.01

    def test_same_seed_same_answer(self) -> None:
        first = Simulation(100, 180, 8, 20, 20, seed=7).run()
        assert Simulation(100, 180, 8, 20, 20, seed=7).run() == first


class TestCommand:
    def test_prints_one_json_object(self) -> None:
        result = CliRunner().invoke(
            app,
            ["simulate", "--arrivals-per-hour", "100", "--aht", "180", "--agents", "8",
             "--threshold", "20", "--hours", "50", "--seed", "1", "--patience", "120"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        figures = json.loads(result.output)
        assert set(figures) >= {"service_level", "asa", "abandon_rate", "occupancy"}
        assert 0 < figures["abandon_rate"] < 0.2

    def test_staffing_prints_the_agents_needed(self) -> None:
        result = CliRunner().invoke(
            app,
            ["staffing", "--arrivals-per-hour", "100", "--aht", "180", "--threshold", "20",
             "--target", "0.8"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        figures = json.loads(result.output)
        assert figures["agents"] == 8
        assert set(figures) == {"agents", "service_level", "asa", "occupancy", "abandon_rate"}
