"""A discrete-event simulator that drives the real routing decisions (routing.router).

The clock is simulated, never the wall: arrivals are Poisson, handling times exponential with
mean `aht`, and with `patience` a waiting contact abandons after an exponential patience.
Every routing decision — which agent gets an arriving contact, which contact a freed agent
takes next — is the router's own `route` and `take_next`.

`Simulation` is one queue of identical agents (checked against Erlang C and A).
`ScenarioSimulation` is the multi-skill case (routing.scenario reads it from a JSON file):
task types with their own arrival rate, handling time, required skills (with minimum levels),
SLA threshold and patience, served by agent groups with skill levels and speeds. Each task
type is a queue whose agent expression is its required skills, so eligibility is decided by
the real expression language and router. An `Ordering` is the policy under test: how a task
is ranked (ours: the engine's `rank_at`, base priority and SLA urgency), and optionally which
of the waiting tasks a freed agent prefers (a baseline's selection rule)."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from frontdesk.analytics.staffing import Figures
from frontdesk.routing.engine import TOTAL, TaskView, Worker, rank_at
from frontdesk.routing.expressions import Expression, always, parse
from frontdesk.routing.router import Router

CHANNEL = "voice"
ARRIVAL, DEPARTURE, ABANDON = 0, 1, 2
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TaskType:
    name: str
    arrivals_per_hour: float
    aht: float
    threshold: float
    skills: Mapping[str, int] = field(default_factory=dict)  # required skill → minimum level
    channel: str = CHANNEL
    priority: int = 0  # base priority
    patience: float | None = None
    aht_by_group: Mapping[str, float] = field(default_factory=dict)

    def queue_expression(self) -> Expression:
        if not self.skills:
            return always()
        return parse(" AND ".join(f"skills.{s} >= {lvl}" for s, lvl in self.skills.items()))


@dataclass(frozen=True)
class AgentGroup:
    name: str
    count: int
    skills: Mapping[str, int] = field(default_factory=dict)
    speed: float = 1.0  # handling time is the task type's aht divided by the speed
    capacity: Mapping[str, int] | None = None  # default: one task at a time


Rank = Callable[[TaskType, float], float]
Prefer = Callable[[Worker, TaskView], Any]


@dataclass(frozen=True)
class Ordering:
    """A routing policy under test: a task's rank at arrival, and a freed agent's preference."""

    name: str
    rank: Rank
    prefer: Callable[[Mapping[str, TaskType]], Prefer] | None = None


def _engine_rank(kind: TaskType, arrived: float) -> float:
    """Ours: the engine's own rank (base priority, SLA urgency against the threshold, age)."""
    created = _EPOCH + timedelta(seconds=arrived)
    due = created + timedelta(seconds=kind.threshold)
    return (rank_at(created, kind.priority, due) - _EPOCH).total_seconds()


def _skill_first(types: Mapping[str, TaskType]) -> Prefer:
    def prefer(worker: Worker, task: TaskView) -> Any:
        kind = types[task.attributes["type"]]
        has = worker.attributes.get("skills") or {}
        level = min((has.get(skill, 0) for skill in kind.skills), default=0)
        return (-level, -kind.priority, task.key)

    return prefer


OURS = Ordering("ours", _engine_rank)
LONGEST_IDLE = Ordering("longest_idle", lambda kind, arrived: arrived)
STATIC_SKILL_PRIORITY = Ordering("static_skill_priority", lambda k, a: a, _skill_first)
SLA_URGENCY = Ordering("sla_urgency", lambda kind, arrived: arrived + kind.threshold)
BASELINES = {o.name: o for o in (LONGEST_IDLE, STATIC_SKILL_PRIORITY, SLA_URGENCY)}


class _Draws:
    """The random draws. Paired (scenarios): each task type's arrivals have their own stream, and
    each task's work (handling and patience, as multiples of the means) is drawn when it
    arrives, so every policy compared sees the very same tasks (common random numbers: the
    difference between two policies is then theirs, not the dice's). Unpaired (the single
    queue): one stream drawn in event order."""

    def __init__(self, seed: int, types: int, paired: bool) -> None:
        self.paired = paired
        self.main = random.Random(seed)
        self.arrivals = [random.Random(f"{seed}:arrivals:{i}") for i in range(types)]
        self.work = random.Random(f"{seed}:work")
        self.units: dict[int, tuple[float, float]] = {}

    def gap(self, index: int, per_hour: float) -> float:
        rng = self.arrivals[index] if self.paired else self.main
        return rng.expovariate(per_hour / 3600.0)

    def arrived(self, task_id: int) -> None:
        if self.paired:
            self.units[task_id] = (self.work.expovariate(1.0), self.work.expovariate(1.0))

    def handling(self, task_id: int, mean: float) -> float:
        if self.paired:
            return mean * self.units.pop(task_id)[0]
        return self.main.expovariate(1.0 / mean)

    def patience(self, task_id: int, mean: float) -> float:
        if self.paired:
            return mean * self.units[task_id][1]
        return self.main.expovariate(1.0 / mean)

    def left(self, task_id: int) -> None:
        self.units.pop(task_id, None)


@dataclass
class _Tally:
    arrivals: int = 0
    answered: int = 0
    in_threshold: int = 0
    abandoned: int = 0
    wait_total: float = 0.0
    busy_seconds: float = 0.0

    def figures(self, agents: int, agent_seconds: float) -> Figures:
        arrivals = max(self.arrivals, 1)
        return Figures(
            agents=agents,
            service_level=self.in_threshold / arrivals,
            asa=self.wait_total / self.answered if self.answered else 0.0,
            abandon_rate=self.abandoned / arrivals,
            occupancy=self.busy_seconds / agent_seconds if agent_seconds else 0.0,
        )


@dataclass
class ScenarioFigures:
    overall: Figures
    task_types: dict[str, Figures]
    groups: dict[str, float]  # occupancy per agent group

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "task_types": {name: f.as_dict() for name, f in self.task_types.items()},
            "groups": {name: {"occupancy": occ} for name, occ in self.groups.items()},
        }


@dataclass
class ScenarioSimulation:
    task_types: Sequence[TaskType]
    groups: Sequence[AgentGroup]
    hours: float
    seed: int = 1
    ordering: Ordering = OURS
    paired: bool = True  # common random numbers across policies (see _Draws)
    _events: list[tuple[float, int, int, int]] = field(default_factory=list)
    _arrived: dict[int, float] = field(default_factory=dict)
    _kind_of: dict[int, int] = field(default_factory=dict)  # task → task type index
    _serving: dict[int, tuple[int, str]] = field(default_factory=dict)  # departure → slot
    _sequence: int = 0
    _next_id: int = 0

    def run(self) -> ScenarioFigures:
        rng = _Draws(self.seed, len(self.task_types), self.paired)
        # Queue ids start at 1 (the router reads a queue id of 0 as none).
        router = Router({i + 1: k.queue_expression() for i, k in enumerate(self.task_types)})
        group_of = self._add_workers(router)
        by_name = {kind.name: kind for kind in self.task_types}
        prefer = self.ordering.prefer(by_name) if self.ordering.prefer else None
        tallies = [_Tally() for _ in self.task_types]
        group_busy = {group.name: 0.0 for group in self.groups}
        end = self.hours * 3600.0
        for index, kind in enumerate(self.task_types):
            self._push(rng.gap(index, kind.arrivals_per_hour), ARRIVAL, index)
        while self._events:
            now, _, event, subject = heapq.heappop(self._events)
            if event == ARRIVAL:
                self._arrive(router, rng, tallies, group_of, group_busy, now, subject, end)
            elif event == DEPARTURE:
                worker_id, channel = self._serving.pop(subject)
                router.release(worker_id, channel, now=now)
                task = router.take_next(worker_id, now=now, prefer=prefer)
                if task is not None:
                    self._serve(rng, tallies, group_of, group_busy, now, worker_id, task.id)
            elif router.remove_task(subject) is not None:  # ABANDON of one still waiting
                rng.left(subject)
                tallies[self._kind_of.pop(subject)].abandoned += 1
        return self._figures(router, tallies, group_busy, end)

    def _add_workers(self, router: Router) -> dict[int, AgentGroup]:
        channels = list(dict.fromkeys(kind.channel for kind in self.task_types))
        default = {channel: 1 for channel in channels}
        if len(channels) > 1:
            default[TOTAL] = 1
        group_of: dict[int, AgentGroup] = {}
        for group in self.groups:
            for _ in range(group.count):
                worker_id = len(group_of) + 1
                capacity = dict(group.capacity) if group.capacity else dict(default)
                router.add_worker(Worker(worker_id, {"skills": dict(group.skills)}, capacity))
                group_of[worker_id] = group
        return group_of

    def _push(self, at: float, event: int, subject: int) -> None:
        self._sequence += 1
        heapq.heappush(self._events, (at, self._sequence, event, subject))

    def _arrive(
        self,
        router: Router,
        rng: _Draws,
        tallies: list[_Tally],
        group_of: dict[int, AgentGroup],
        group_busy: dict[str, float],
        now: float,
        index: int,
        end: float,
    ) -> None:
        if now >= end:
            return  # arrivals stop; those already in the system are still served
        kind = self.task_types[index]
        self._next_id += 1
        task_id = self._next_id
        tallies[index].arrivals += 1
        self._arrived[task_id] = now
        self._kind_of[task_id] = index
        rng.arrived(task_id)
        rank = self.ordering.rank(kind, now)
        attributes = {"type": kind.name}
        task = TaskView(task_id, kind.channel, rank, queue_id=index + 1, attributes=attributes)
        router.add_task(task)
        worker = router.route(task, now=now)
        if worker is not None:
            self._serve(rng, tallies, group_of, group_busy, now, worker.id, task_id)
        elif kind.patience is not None:
            self._push(now + rng.patience(task_id, kind.patience), ABANDON, task_id)
        self._push(now + rng.gap(index, kind.arrivals_per_hour), ARRIVAL, index)

    def _serve(
        self,
        rng: _Draws,
        tallies: list[_Tally],
        group_of: dict[int, AgentGroup],
        group_busy: dict[str, float],
        now: float,
        worker_id: int,
        task_id: int,
    ) -> None:
        index = self._kind_of.pop(task_id)
        kind, tally = self.task_types[index], tallies[index]
        wait = now - self._arrived.pop(task_id)
        tally.answered += 1
        tally.wait_total += wait
        tally.in_threshold += wait <= kind.threshold
        group = group_of[worker_id]
        mean = kind.aht_by_group.get(group.name, kind.aht / group.speed)
        handling = rng.handling(task_id, mean)
        tally.busy_seconds += handling
        group_busy[group.name] += handling
        self._sequence += 1
        self._serving[self._sequence] = (worker_id, kind.channel)
        self._push(now + handling, DEPARTURE, self._sequence)

    def _figures(
        self,
        router: Router,
        tallies: list[_Tally],
        group_busy: dict[str, float],
        end: float,
    ) -> ScenarioFigures:
        agents = len(router.workers)
        total = _Tally(
            arrivals=sum(t.arrivals for t in tallies),
            answered=sum(t.answered for t in tallies),
            in_threshold=sum(t.in_threshold for t in tallies),
            abandoned=sum(t.abandoned for t in tallies),
            wait_total=sum(t.wait_total for t in tallies),
            busy_seconds=sum(t.busy_seconds for t in tallies),
        )
        per_type = {}
        for index, (kind, tally) in enumerate(zip(self.task_types, tallies, strict=True)):
            eligible = sum(1 for w in router.workers if index + 1 in router.eligible_queues(w))
            per_type[kind.name] = tally.figures(eligible, agents * end)
        groups = {
            group.name: group_busy[group.name] / (group.count * end) if end else 0.0
            for group in self.groups
        }
        return ScenarioFigures(total.figures(agents, agents * end), per_type, groups)


@dataclass
class Simulation:
    """One queue of `agents` identical agents, first come first served (Erlang C / A)."""

    arrivals_per_hour: float
    aht: float
    agents: int
    threshold: float
    hours: float
    seed: int = 1
    patience: float | None = None

    def run(self) -> Figures:
        kind = TaskType(
            "calls", self.arrivals_per_hour, self.aht, self.threshold, patience=self.patience
        )
        found = ScenarioSimulation(
            [kind],
            [AgentGroup("agents", self.agents)],
            self.hours,
            self.seed,
            LONGEST_IDLE,
            paired=False,
        ).run()
        return found.overall
