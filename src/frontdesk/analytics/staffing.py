"""Queueing theory from first principles: Erlang C (M/M/n) and Erlang A (M/M/n+M, callers
with exponential patience), and the staffing that meets a service level.

Definitions, the same as the simulator's: the service level is the share of all arriving
contacts answered within the threshold (an abandoned one never counts as answered); the ASA is
the mean wait of answered contacts (zero waits included); occupancy is the share of agent time
spent serving."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# The waiting states of Erlang A are summed until their probabilities fall below this.
NEGLIGIBLE = 1e-15
MAX_WAITING = 20_000


@dataclass
class Figures:
    agents: int
    service_level: float
    asa: float
    abandon_rate: float
    occupancy: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def erlang_b(load: float, agents: int) -> float:
    """Blocking probability of `agents` servers offered `load` erlangs (stable recursion)."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(*, arrivals_per_hour: float, aht: float, agents: int, threshold: float) -> Figures:
    """M/M/n without abandonment; an overloaded system (load ≥ agents) never meets anything."""
    load = arrivals_per_hour / 3600.0 * aht
    if agents <= 0 or load >= agents:
        return Figures(agents, 0.0, math.inf, 0.0, 1.0)
    blocking = erlang_b(load, agents)
    waits = agents * blocking / (agents - load * (1 - blocking))
    rate = (agents - load) / aht  # the rate at which a queue of waiting contacts drains
    return Figures(
        agents=agents,
        service_level=1 - waits * math.exp(-rate * threshold),
        asa=waits / rate,
        abandon_rate=0.0,
        occupancy=load / agents,
    )


def erlang_a(
    *, arrivals_per_hour: float, aht: float, agents: int, threshold: float, patience: float
) -> Figures:
    """M/M/n+M: a waiting contact abandons after an exponential patience of mean `patience`."""
    lam, mu, theta = arrivals_per_hour / 3600.0, 1.0 / aht, 1.0 / patience
    arriving = _stationary(lam, mu, theta, agents)
    # A contact that finds k ≥ n in the system waits at position j = k - n + 1. At position i
    # it moves up at rate a_i = nμ + (i-1)θ (a service ends or someone ahead gives up) and
    # gives up itself at rate θ. The walk is run uniformised, all starting positions at once.
    positions = {k - agents + 1: p for k, p in enumerate(arriving) if k >= agents}
    answered_at_once = sum(arriving[:agents])
    answered_by_threshold = answered_at_once + _reach_service(
        positions, agents, mu, theta, threshold
    )
    answered, mean_wait = _answered(positions, agents, mu, theta)
    served = answered_at_once + answered
    return Figures(
        agents=agents,
        service_level=answered_by_threshold,
        asa=mean_wait / served if served else math.inf,
        abandon_rate=1 - served,
        occupancy=lam * served * aht / agents,
    )


def _stationary(lam: float, mu: float, theta: float, agents: int) -> list[float]:
    terms = [1.0]
    for k in range(1, agents + MAX_WAITING):
        rate_out = min(k, agents) * mu + max(0, k - agents) * theta
        terms.append(terms[-1] * lam / rate_out)
        if k > agents and terms[-1] < NEGLIGIBLE * sum(terms):
            break
    total = sum(terms)
    return [term / total for term in terms]


def _move_rate(position: int, agents: int, mu: float, theta: float) -> float:
    return agents * mu + (position - 1) * theta


def _answered(
    positions: dict[int, float], agents: int, mu: float, theta: float
) -> tuple[float, float]:
    """(P(answered after waiting), E[wait; answered]) over the waiting starting positions."""
    answered = weighted_wait = 0.0
    for start, weight in positions.items():
        survive, wait = 1.0, 0.0
        for i in range(start, 0, -1):
            a = _move_rate(i, agents, mu, theta)
            wait += 1.0 / (a + theta)
            survive *= a / (a + theta)
        answered += weight * survive
        weighted_wait += weight * survive * wait
    return answered, weighted_wait


def _reach_service(
    positions: dict[int, float], agents: int, mu: float, theta: float, threshold: float
) -> float:
    """P(start waiting and reach an agent within `threshold`), by uniformisation."""
    if not positions or threshold <= 0:
        return 0.0
    top = max(positions)
    uniform = _move_rate(top, agents, mu, theta) + theta
    mass = [0.0] * (top + 1)  # mass[i]: probability of waiting at position i
    for position, weight in positions.items():
        mass[position] = weight
    poisson = math.exp(-uniform * threshold)
    steps_mean = uniform * threshold
    reached = served_so_far = 0.0
    step = 0
    while True:
        reached += poisson * served_so_far
        step += 1
        if step > steps_mean + 12 * math.sqrt(steps_mean + 1) + 20:
            break
        poisson *= steps_mean / step
        served_so_far += _advance(mass, agents, mu, theta, uniform)
    return reached


def _advance(mass: list[float], agents: int, mu: float, theta: float, uniform: float) -> float:
    """One uniformised step of the waiting walk; returns the mass that reached an agent."""
    moved = [0.0] * len(mass)
    served = 0.0
    for i in range(1, len(mass)):
        if mass[i] == 0.0:
            continue
        a = _move_rate(i, agents, mu, theta)
        up = mass[i] * a / uniform
        if i == 1:
            served += up
        else:
            moved[i - 1] += up
        moved[i] += mass[i] * (1 - (a + theta) / uniform)  # abandoning mass leaves
    mass[:] = moved
    return served


def figures(
    *,
    arrivals_per_hour: float,
    aht: float,
    agents: int,
    threshold: float,
    patience: float | None = None,
) -> Figures:
    """Erlang C, or Erlang A when callers have a mean patience."""
    if patience is None:
        return erlang_c(
            arrivals_per_hour=arrivals_per_hour, aht=aht, agents=agents, threshold=threshold
        )
    return erlang_a(
        arrivals_per_hour=arrivals_per_hour,
        aht=aht,
        agents=agents,
        threshold=threshold,
        patience=patience,
    )


def staffing(
    *,
    arrivals_per_hour: float,
    aht: float,
    threshold: float,
    target: float,
    patience: float | None = None,
    shrinkage: float = 0.0,
    max_agents: int = 10_000,
) -> Figures:
    """The fewest agents meeting `target` service level, grossed up for shrinkage."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    for agents in range(1, max_agents + 1):
        found = figures(
            arrivals_per_hour=arrivals_per_hour,
            aht=aht,
            agents=agents,
            threshold=threshold,
            patience=patience,
        )
        if found.service_level >= target:
            found.agents = math.ceil(agents / (1 - shrinkage))
            return found
    raise ValueError(f"no staffing up to {max_agents} agents meets the target")
