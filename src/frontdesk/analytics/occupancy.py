"""Agent occupancy, free of I/O: fold presence and routing-task events into per-agent,
per-hour seconds staffed and handling (docs/metrics.md).

An agent is *staffed* while their presence is available, busy or in wrap-up (logged in and
not away), and *handling* while staffed and either holding at least one routing task
(assigned or wrapping up) or busy or in wrap-up. Time is filed when it ends: the stretch
since an agent's last event is filed by their next one (a presence change, a task taken or
let go). Occupancy = handling ÷ staffed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from frontdesk.analytics.facts import hour_of
from frontdesk.analytics.models import HANDLING, STAFFED

# Task statuses in which the agent named holds the task.
HELD = ("assigned", "wrapping")
HOUR = timedelta(hours=1)
# (hour, agent_id) → [staffed seconds, handling seconds]
AgentDelta = dict[tuple[datetime, int], list[float]]


@dataclass
class AgentState:
    agent_id: int
    status: str = "offline"
    at: datetime | None = None  # filed up to here
    task_ids: list[int] = field(default_factory=list)

    @property
    def staffed(self) -> bool:
        return self.status in STAFFED

    @property
    def handling(self) -> bool:
        return self.staffed and (self.status in HANDLING or bool(self.task_ids))


def is_agent_event(event: dict[str, Any]) -> bool:
    return event["type"] == "presence.changed" or str(event["type"]).startswith("task.")


def advance(state: AgentState, until: datetime, delta: AgentDelta) -> None:
    """File the stretch [state.at, until) under the state as it was, split by hour."""
    start = state.at
    state.at = until if start is None else max(start, until)
    if start is None or until <= start or not state.staffed:
        return
    moment = start
    while moment < until:
        stop = min(hour_of(moment) + HOUR, until)
        seconds = (stop - moment).total_seconds()
        row = delta.setdefault((hour_of(moment), state.agent_id), [0.0, 0.0])
        row[0] += seconds
        if state.handling:
            row[1] += seconds
        moment = stop


def apply(states: dict[int, AgentState], event: dict[str, Any], delta: AgentDelta) -> None:
    """Fold one presence.changed or task.* event into the agents' states and `delta`."""
    at, payload = event["at"], event.get("payload") or {}
    if event["type"] == "presence.changed":
        agent_id = payload.get("agent_id")
        if isinstance(agent_id, int) and payload.get("status"):
            state = states.setdefault(agent_id, AgentState(agent_id))
            advance(state, at, delta)
            state.status = str(payload["status"])
        return
    task_id = payload.get("task_id")
    if not isinstance(task_id, int):
        return
    holder = payload.get("agent_id") if payload.get("status") in HELD else None
    for state in states.values():
        if task_id in state.task_ids and state.agent_id != holder:
            advance(state, at, delta)
            state.task_ids.remove(task_id)
    if isinstance(holder, int):
        state = states.setdefault(holder, AgentState(holder))
        if task_id not in state.task_ids:
            advance(state, at, delta)
            state.task_ids.append(task_id)


def fold(
    states: dict[int, AgentState], events: list[dict[str, Any]]
) -> dict[tuple[datetime, int], tuple[int, int]]:
    """Fold agent events (oldest first); the whole seconds to add per (hour, agent)."""
    delta: AgentDelta = {}
    for event in events:
        apply(states, event, delta)
    return {key: (round(s), round(h)) for key, (s, h) in delta.items() if round(s) or round(h)}


def occupancy(staffed: int, handling: int) -> float | None:
    return round(handling / staffed, 4) if staffed else None
