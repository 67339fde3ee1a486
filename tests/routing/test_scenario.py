"""`frontdesk simulate --scenario`: multi-skill scenarios through the real router, compared
with the longest-idle, static skill priority and SLA-urgency baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli import app
from frontdesk.routing.scenario import Scenario, ScenarioError, _Scenario, compare, load
from frontdesk.routing.simulator import (
    BASELINES,
    LONGEST_IDLE,
    OURS,
    AgentGroup,
    ScenarioSimulation,
    Simulation,
    TaskType,
)

EXAMPLE = Path(__file__).parents[2] / "docs" / "scenarios" / "multiskill.json"
VIP = EXAMPLE.with_name("vip.json")
FIGURES = {"agents", "service_level", "asa", "abandon_rate", "occupancy"}
POLICIES = ["ours", "longest_idle", "static_skill_priority", "sla_urgency"]


def load_text(spec: dict) -> Scenario:  # type: ignore[type-arg]
    return Scenario(_Scenario.model_validate(spec))


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


class TestCommand:
    def test_prints_figures_per_task_type_and_the_comparison(self) -> None:
        code, out, err = _invoke("--scenario", str(EXAMPLE), "--hours", "20", "--seed", "3")
        assert code == 0, err
        found = json.loads(out)
        names = {kind["name"] for kind in json.loads(EXAMPLE.read_text())["task_types"]}
        assert set(found["overall"]) == FIGURES
        assert set(found["task_types"]) == names
        assert all(set(figures) == FIGURES for figures in found["task_types"].values())
        assert set(found["groups"]) == {"generalists", "billing_specialists", "arabic_team"}
        assert set(found["baselines"]) == set(POLICIES[1:])
        assert [row["policy"] for row in found["comparison"]] == POLICIES
        assert found["comparison"][0]["service_level"] == found["overall"]["service_level"]
        assert found["best_baseline"] in POLICIES[1:]
        assert 0 < found["overall"]["service_level"] <= 1
        assert 0 < found["overall"]["occupancy"] < 1

    def test_same_seed_same_answer_and_another_seed_differs(self) -> None:
        first = _invoke("--scenario", str(EXAMPLE), "--hours", "10", "--seed", "5")[1]
        assert _invoke("--scenario", str(EXAMPLE), "--hours", "10", "--seed", "5")[1] == first
        assert _invoke("--scenario", str(EXAMPLE), "--hours", "10", "--seed", "6")[1] != first

    def test_table_prints_one_row_per_policy(self) -> None:
        code, out, err = _invoke("--scenario", str(EXAMPLE), "--hours", "10", "--table")
        assert code == 0, err
        rows = out.strip().splitlines()
        assert rows[0].startswith("| policy | service level")
        assert [row.split("|")[1].strip() for row in rows[2:]] == POLICIES
        as_json = json.loads(_invoke("--scenario", str(EXAMPLE), "--hours", "10")[1])
        assert f"{as_json['overall']['service_level']:.2%}" in rows[2]

    def test_the_single_queue_form_still_needs_its_options(self) -> None:
        code, _, err = _invoke("--aht", "180")
        assert code == 2
        assert "--arrivals-per-hour" in err


class TestBadFiles:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("{not json", "not valid JSON"),
            ("[]", "scenario"),
            ('{"task_types": [], "agent_groups": []}', "task_types"),
            (
                '{"task_types": [{"name": "a", "arrivals_per_hour": -1, "aht": 60,'
                ' "threshold": 20}], "agent_groups": [{"name": "g", "count": 1}]}',
                "task_types.0.arrivals_per_hour",
            ),
            (
                '{"task_types": [{"name": "a", "arrivals_per_hour": 5, "aht": 60,'
                ' "threshold": 20, "skills": {"french": 1}}],'
                ' "agent_groups": [{"name": "g", "count": 1, "skills": {"billing": 3}}]}',
                "no agent group has its skills",
            ),
            (
                '{"task_types": [{"name": "a", "arrivals_per_hour": 5, "aht": 60,'
                ' "threshold": 20}], "agent_groups": [{"name": "g", "count": 1}],'
                ' "policy": {"baselines": ["random"]}}',
                "unknown ['random']",
            ),
            (
                '{"task_types": [{"name": "a", "arrivals_per_hour": 5, "aht": 60,'
                ' "threshold": 20, "colour": "red"}], "agent_groups": [{"name": "g", "count": 1}]}',
                "task_types.0.colour",
            ),
        ],
    )
    def test_exit_2_with_a_clear_message(self, tmp_path: Path, content: str, message: str) -> None:
        path = tmp_path / "scenario.json"
        path.write_text(content)
        code, out, err = _invoke("--scenario", str(path))
        assert code == 2
        assert out == ""
        assert message in err
        assert "Traceback" not in err

    def test_a_run_too_long_to_simulate(self) -> None:
        code, out, err = _invoke("--scenario", str(EXAMPLE), "--hours", "1000000")
        assert code == 2
        assert out == ""
        assert "fewer hours" in err

    def test_a_missing_file(self, tmp_path: Path) -> None:
        code, _, err = _invoke("--scenario", str(tmp_path / "absent.json"))
        assert code == 2
        assert "cannot read" in err


class TestSimulation:
    def test_one_type_one_group_is_the_single_queue_simulation(self) -> None:
        kind = TaskType("calls", 100, 180, 20, patience=120)
        found = ScenarioSimulation(
            [kind], [AgentGroup("all", 8)], 50, 4, LONGEST_IDLE, paired=False
        )
        found = found.run()
        assert found.overall == Simulation(100, 180, 8, 20, 50, 4, patience=120).run()

    def test_only_agents_with_the_skill_level_serve_a_type(self) -> None:
        kinds = [TaskType("expert", 20, 300, 30, skills={"billing": 3})]
        groups = [
            AgentGroup("juniors", 5, {"billing": 2}),
            AgentGroup("seniors", 3, {"billing": 3}),
        ]
        found = ScenarioSimulation(kinds, groups, 50, 1).run()
        assert found.groups["juniors"] == 0.0
        assert found.groups["seniors"] > 0.2
        assert found.task_types["expert"].agents == 3

    def test_speed_shortens_handling(self) -> None:
        kinds = [TaskType("calls", 20, 300, 30)]
        slow = ScenarioSimulation(kinds, [AgentGroup("g", 4)], 200, 1).run()
        fast = ScenarioSimulation(kinds, [AgentGroup("g", 4, speed=2.0)], 200, 1).run()
        assert fast.overall.occupancy == pytest.approx(slow.overall.occupancy / 2, rel=0.1)


class TestAgainstBaselines:
    # All policies see the same tasks (common random numbers), so the differences are theirs.
    # Ours serves the urgent voice work by due time (base priority never outranks SLA urgency)
    # and e-mail by age until its urgency point: on these files it serves the same tasks in the
    # same order as SLA urgency, so the comparison is exact (no allowance). vip.json has a VIP
    # priority of 6, above the urgency lead, which lost up to 0.2 points before the cap.
    # 500 h each (the files' own length): over 100 h static skill priority wins some seeds by
    # up to 0.15 points, a run too short for the comparison the issue asks for.
    @pytest.mark.parametrize("path", [EXAMPLE, VIP], ids=["multiskill", "vip"])
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_ours_is_never_worse_than_the_best_baseline(self, path: Path, seed: int) -> None:
        found = compare(load(path), seed=seed)
        ours = found["overall"]["service_level"]
        rows = {row["policy"]: row["service_level"] for row in found["comparison"]}
        best = max(rows[name] for name in POLICIES[1:])
        assert ours >= best, rows
        assert ours > rows["longest_idle"], rows
        assert ours > rows["static_skill_priority"], rows
        assert found["ours_minus_best_service_level"] == pytest.approx(ours - best)

    def test_a_vip_priority_never_outranks_the_sla(self) -> None:
        # The VIP calls' 15-second target leaves no slack before their urgency point, so any
        # priority orders them exactly as none: the same figures, to the last task.
        runs = []
        for priority in (0, 100):
            spec = json.loads(VIP.read_text())
            for kind in spec["task_types"]:
                if kind["name"] == "vip_voice":
                    kind["priority"] = priority
            scenario = load_text(spec)
            runs.append(scenario.run("ours", hours=20, seed=4).as_dict())
        assert runs[0] == runs[1]

    def test_policies_see_the_same_tasks(self) -> None:
        # Equal speeds and no abandonment: every task is served, so the work done per type is
        # the same for every policy exactly when they all drew the same tasks.
        kinds = [
            TaskType("a", 40, 120, 20, skills={"x": 1}),
            TaskType("b", 30, 200, 60, skills={"y": 1}, priority=3),
        ]
        groups = [AgentGroup("xy", 3, {"x": 1, "y": 2}), AgentGroup("x", 2, {"x": 2})]
        runs = {
            name: ScenarioSimulation(kinds, groups, 40, 9, ordering).run()
            for name, ordering in [("ours", OURS), *BASELINES.items()]
        }
        work = {name: [f.occupancy for f in run.task_types.values()] for name, run in runs.items()}
        for name in BASELINES:
            assert work[name] == pytest.approx(work["ours"], rel=1e-9)
        assert runs["ours"].overall != runs["longest_idle"].overall  # yet they decided apart

    def test_load_rejects_a_type_nobody_can_serve(self, tmp_path: Path) -> None:
        spec = json.loads(EXAMPLE.read_text())
        spec["task_types"][0]["skills"] = {"billing": 9}
        path = tmp_path / "s.json"
        path.write_text(json.dumps(spec))
        with pytest.raises(ScenarioError, match="billing_voice"):
            load(path)
