"""`frontdesk simulate --scenario FILE.json`: read a multi-skill scenario, run it through the
simulator (routing.simulator) under our policy and the baselines, and compare them.

The file (docs/scenarios/multiskill.json is an example):

    {"hours": 500, "seed": 1,
     "task_types": [{"name": "billing_voice", "arrivals_per_hour": 60, "aht": 240,
                     "skills": {"billing": 1}, "threshold": 20, "priority": 0,
                     "patience": 120, "channel": "voice", "aht_by_group": {"seniors": 180}}],
     "agent_groups": [{"name": "seniors", "count": 3, "skills": {"billing": 3}, "speed": 1.2}],
     "policy": {"baselines": ["longest_idle", "static_skill_priority", "sla_urgency"]}}

A mistake in the file is a `ScenarioError` naming where it is (the command exits with 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from frontdesk.routing.simulator import (
    BASELINES,
    OURS,
    AgentGroup,
    ScenarioFigures,
    ScenarioSimulation,
    TaskType,
)

SKILL = r"^[A-Za-z_][A-Za-z0-9_]*$"
FIGURES = ("service_level", "asa", "abandon_rate", "occupancy")
MAX_TASKS = 20_000_000  # expected arrivals per policy run (about five minutes of simulation)


class ScenarioError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _TaskType(_Strict):
    name: str = Field(min_length=1)
    arrivals_per_hour: float = Field(gt=0)
    aht: float = Field(gt=0)
    threshold: float = Field(ge=0)
    skills: dict[str, int] = Field(default_factory=dict)
    channel: str = Field(default="voice", min_length=1)
    priority: int = Field(default=0, ge=-100, le=100)
    patience: float | None = Field(default=None, gt=0)
    aht_by_group: dict[str, float] = Field(default_factory=dict)


class _Group(_Strict):
    name: str = Field(min_length=1)
    count: int = Field(ge=1, le=10_000)
    skills: dict[str, int] = Field(default_factory=dict)
    speed: float = Field(default=1.0, gt=0)
    capacity: dict[str, int] | None = None


class _Policy(_Strict):
    baselines: list[str] = Field(default_factory=lambda: list(BASELINES))


class _Scenario(_Strict):
    hours: float = Field(default=500.0, gt=0, le=100_000)
    seed: int = 1
    task_types: list[_TaskType] = Field(min_length=1)
    agent_groups: list[_Group] = Field(min_length=1)
    policy: _Policy = Field(default_factory=_Policy)

    @model_validator(mode="after")
    def _consistent(self) -> _Scenario:
        groups = {group.name for group in self.agent_groups}
        if len(groups) != len(self.agent_groups):
            raise ValueError("agent group names must be unique")
        if len({kind.name for kind in self.task_types}) != len(self.task_types):
            raise ValueError("task type names must be unique")
        for group in self.agent_groups:
            for skill, level in group.skills.items():
                if not re.match(SKILL, skill) or level < 0:
                    raise ValueError(f"agent group {group.name!r}: bad skill {skill!r}")
        for kind in self.task_types:
            for skill, level in kind.skills.items():
                if not re.match(SKILL, skill) or level < 0:
                    raise ValueError(f"task type {kind.name!r}: bad skill {skill!r}")
            if unknown := set(kind.aht_by_group) - groups:
                raise ValueError(f"task type {kind.name!r}: unknown groups {sorted(unknown)}")
            if any(value <= 0 for value in kind.aht_by_group.values()):
                raise ValueError(f"task type {kind.name!r}: aht_by_group values must be > 0")
            if not any(_serves(group, kind) for group in self.agent_groups):
                raise ValueError(f"task type {kind.name!r}: no agent group has its skills")
        if unknown := set(self.policy.baselines) - set(BASELINES):
            raise ValueError(
                f"policy.baselines: unknown {sorted(unknown)}; known {list(BASELINES)}"
            )
        return self


def _serves(group: _Group, kind: _TaskType) -> bool:
    has_room = group.capacity is None or group.capacity.get(kind.channel, 0) > 0
    return has_room and all(group.skills.get(s, -1) >= lvl for s, lvl in kind.skills.items())


class Scenario:
    def __init__(self, spec: _Scenario) -> None:
        self.hours = spec.hours
        self.seed = spec.seed
        self.baselines = spec.policy.baselines
        self.task_types = [TaskType(**kind.model_dump()) for kind in spec.task_types]
        self.groups = [AgentGroup(**group.model_dump()) for group in spec.agent_groups]

    def run(self, ordering_name: str = "ours", *, hours: float | None = None,
            seed: int | None = None) -> ScenarioFigures:  # fmt: skip
        ordering = OURS if ordering_name == "ours" else BASELINES[ordering_name]
        hours = hours if hours is not None else self.hours
        expected = sum(kind.arrivals_per_hour for kind in self.task_types) * hours
        if expected > MAX_TASKS:
            raise ScenarioError(
                f"about {expected:,.0f} tasks to simulate; at most {MAX_TASKS:,} (fewer hours)"
            )
        return ScenarioSimulation(
            self.task_types,
            self.groups,
            hours,
            seed if seed is not None else self.seed,
            ordering,
        ).run()


def load(path: Path) -> Scenario:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc})") from exc
    try:
        return Scenario(_Scenario.model_validate(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'scenario'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from exc


def compare(scenario: Scenario, *, hours: float | None = None,
            seed: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Ours and each baseline on the same scenario and seed; one JSON-ready object."""
    ours = scenario.run("ours", hours=hours, seed=seed)
    found = ours.as_dict()
    found["policy"] = "ours"
    runs = {name: scenario.run(name, hours=hours, seed=seed) for name in scenario.baselines}
    found["baselines"] = {name: run.as_dict() for name, run in runs.items()}
    table = [{"policy": "ours", **_row(ours)}]
    table += [{"policy": name, **_row(run)} for name, run in runs.items()]
    found["comparison"] = table
    if runs:
        best = max(runs, key=lambda name: runs[name].overall.service_level)
        found["best_baseline"] = best
        found["ours_minus_best_service_level"] = (
            ours.overall.service_level - runs[best].overall.service_level
        )
    return found


def _row(run: ScenarioFigures) -> dict[str, float]:
    overall = run.overall.as_dict()
    return {name: overall[name] for name in FIGURES}


def table(found: dict[str, Any]) -> str:
    """The comparison as a Markdown table (`simulate --scenario FILE --table`)."""
    lines = [
        "| policy | service level | ASA | abandoned | occupancy |",
        "|---|---|---|---|---|",
    ]
    for row in found["comparison"]:
        lines.append(
            f"| {row['policy']} | {row['service_level']:.2%} | {row['asa']:.1f} s"
            f" | {row['abandon_rate']:.2%} | {row['occupancy']:.1%} |"
        )
    return "\n".join(lines)
