"""The routing decisions, free of storage: ranks, eligibility, capacity, choosing an agent.

The database router (routing.dispatch), the in-memory indexed router (routing.router, used by
the simulator and the benchmark) and the tests all decide through these functions.

Ordering. A task's place is one instant, `rank_at`: earlier is served first, ties by id (first
in, first out). It starts at the creation time, moved earlier by PRIORITY_SECONDS per point of
base priority, and never later than URGENCY_LEAD before the SLA is breached (its due time).
Base priority never outranks SLA urgency: with a due time, it moves the task ahead only by the
slack between its arrival and its urgency point (due - URGENCY_LEAD), so a high priority
cannot put a task ahead of one closer to breach (docs/routing.md, Ordering).
The effective priority at `now` is how long ago `rank_at` was, in priority points:

    effective(now) = (now - rank_at) / PRIORITY_SECONDS

It grows with age at the same rate for every task, so the order only changes when a task's
inputs change (a boost, a new due time). That is what lets a queue be a heap, and it is why the
list is always in the order that best meets the SLAs: a task close to breach ranks as if it had
waited long already; a breached one outranks everything that is not older still."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from frontdesk.routing.expressions import Expression

# One point of base priority is worth five minutes of waiting.
PRIORITY_SECONDS = 300.0
# Within this lead of its due time a task ranks like one created now; past it, like older ones.
# 30 minutes, not 15: with 15, a 4-hour e-mail that had waited a quarter of an hour took the
# agent a call due in 20 s needed (docs/routing.md, Multi-skill scenarios).
URGENCY_LEAD = timedelta(minutes=30)
TOTAL = "*"  # the capacity row that bounds the agent's tasks over all channels


def rank_at(created_at: datetime, base_priority: int, due_at: datetime | None) -> datetime:
    """The instant that orders a task (earlier is served first)."""
    credit = timedelta(seconds=base_priority * PRIORITY_SECONDS)
    if due_at is None:
        return created_at - credit
    if due_at - datetime.min.replace(tzinfo=due_at.tzinfo) < URGENCY_LEAD:
        return due_at  # a due time in the first minutes of year 1 (no earlier instant exists)
    urgent = due_at - URGENCY_LEAD
    # Base priority never outranks SLA urgency: it moves a task ahead only by the slack its
    # SLA leaves (from its arrival to its urgency point). Without this cap a priority worth
    # more than the lead put a task ahead of others closer to breach, and lost attainment.
    credit = min(credit, max(urgent - created_at, timedelta(0)))
    return min(created_at - credit, urgent)


def effective_priority(rank: datetime, now: datetime) -> float:
    """The task's priority now, in points of base priority (see the module docstring)."""
    return (now - rank).total_seconds() / PRIORITY_SECONDS


@dataclass
class Worker:
    """An agent as the router sees them at one moment."""

    id: int
    attributes: dict[str, Any]
    capacity: dict[str, int]  # channel → slots; TOTAL bounds all channels together
    load: dict[str, int] = field(default_factory=dict)
    reserved: dict[str, int] = field(default_factory=dict)
    available: bool = True
    idle_since: float = 0.0  # the longest idle is offered first

    def free(self, channel: str) -> bool:
        """Whether one more task of `channel` fits, keeping other channels' reservations."""
        if not self.available:
            return False
        if self.load.get(channel, 0) >= self.capacity.get(channel, 0):
            return False
        total = self.capacity.get(TOTAL)
        if total is None:
            return True
        held = sum(self.load.values())
        # Slots reserved for another channel that it is not using yet are not ours to take.
        kept = sum(
            max(0, reserve - self.load.get(other, 0))
            for other, reserve in self.reserved.items()
            if other != channel
        )
        return held + 1 + kept <= total

    def channels(self) -> list[str]:
        return [channel for channel in self.capacity if channel != TOTAL]

    def take(self, channel: str) -> None:
        self.load[channel] = self.load.get(channel, 0) + 1

    def release(self, channel: str) -> None:
        self.load[channel] = max(0, self.load.get(channel, 0) - 1)


@dataclass
class TaskView:
    """A task as the router sees it."""

    id: int
    channel: str
    rank: float  # rank_at as seconds (any epoch, the same for every task compared)
    queue_id: int | None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    constraint: Expression | None = None  # the target's agent expression
    rejected_by: frozenset[int] = frozenset()

    @property
    def key(self) -> tuple[float, int]:
        return (self.rank, self.id)


def worker_env(attributes: Mapping[str, Any], task: TaskView | None = None) -> dict[str, Any]:
    """What an agent expression reads: the agent's attributes, and the task's under `task`."""
    env = dict(attributes)
    if task is not None:
        env["task"] = task.attributes
    return env


def required_skills(task: TaskView) -> list[str]:
    skills = task.attributes.get("skills") or []
    return [str(skill) for skill in skills] if isinstance(skills, list) else []


def suits(worker: Worker, task: TaskView) -> bool:
    """Whether this agent may work this task (not counting capacity or the queue)."""
    if task.constraint is None and not task.rejected_by and not task.attributes.get("skills"):
        return True  # the common case, decided by the queue alone
    if worker.id in task.rejected_by:
        return False
    has = worker.attributes.get("skills") or {}
    if any(skill not in has for skill in required_skills(task)):
        return False
    return task.constraint is None or task.constraint.matches(worker_env(worker.attributes, task))


def constrained(task: TaskView) -> bool:
    """Whether the task narrows its queue's agents further (then heaps cannot decide alone)."""
    return task.constraint is not None or bool(task.rejected_by) or bool(required_skills(task))


def choose_agent(task: TaskView, candidates: Iterable[Worker]) -> Worker | None:
    """Push: of the eligible agents with room for the task, the one idle longest."""
    best: Worker | None = None
    for worker in candidates:
        if not worker.free(task.channel) or not suits(worker, task):
            continue
        if best is None or (worker.idle_since, worker.id) < (best.idle_since, best.id):
            best = worker
    return best


def choose_task(worker: Worker, tasks: Iterable[TaskView]) -> TaskView | None:
    """Pull: the first-ranked task this agent may take (ties: first in, first out)."""
    best: TaskView | None = None
    for task in tasks:
        if best is not None and task.key >= best.key:
            continue
        if worker.free(task.channel) and suits(worker, task):
            best = task
    return best


def target_timed_out(started: datetime, timeout_seconds: float | None, now: datetime) -> bool:
    """Whether a task has waited in its current target long enough to move to the next."""
    return timeout_seconds is not None and now >= started + timedelta(seconds=timeout_seconds)
