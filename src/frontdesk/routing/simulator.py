"""A discrete-event simulator that drives the real routing decisions (routing.router).

The clock is simulated, never the wall: arrivals are Poisson, handling times exponential with
mean `aht`, and with `patience` a waiting contact abandons after an exponential patience.
Every routing decision — which agent gets an arriving contact, which contact a freed agent
takes next — is the router's own `route` and `take_next`."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from frontdesk.analytics.staffing import Figures
from frontdesk.routing.engine import TaskView, Worker
from frontdesk.routing.expressions import always
from frontdesk.routing.router import Router

CHANNEL = "voice"
QUEUE = 1
ARRIVAL, DEPARTURE, ABANDON = 0, 1, 2


@dataclass
class _Tally:
    arrivals: int = 0
    answered: int = 0
    in_threshold: int = 0
    abandoned: int = 0
    wait_total: float = 0.0
    busy_seconds: float = 0.0


@dataclass
class Simulation:
    arrivals_per_hour: float
    aht: float
    agents: int
    threshold: float
    hours: float
    seed: int = 1
    patience: float | None = None
    _events: list[tuple[float, int, int, int]] = field(default_factory=list)
    _arrived: dict[int, float] = field(default_factory=dict)
    _sequence: int = 0

    def run(self) -> Figures:
        rng = random.Random(self.seed)
        router = Router({QUEUE: always()})
        for agent in range(1, self.agents + 1):
            router.add_worker(Worker(agent, {}, {CHANNEL: 1}))
        tally = _Tally()
        end = self.hours * 3600.0
        self._push(rng.expovariate(self.arrivals_per_hour / 3600.0), ARRIVAL, 1)
        while self._events:
            now, _, kind, subject = heapq.heappop(self._events)
            if kind == ARRIVAL:
                self._arrive(router, rng, tally, now, subject, end)
            elif kind == DEPARTURE:
                router.release(subject, CHANNEL, now=now)
                task = router.take_next(subject, now=now)
                if task is not None:
                    self._serve(rng, tally, now, subject, task.id)
            elif router.remove_task(subject) is not None:  # ABANDON of one still waiting
                tally.abandoned += 1
        return self._figures(tally, end)

    def _push(self, at: float, kind: int, subject: int) -> None:
        self._sequence += 1
        heapq.heappush(self._events, (at, self._sequence, kind, subject))

    def _arrive(
        self,
        router: Router,
        rng: random.Random,
        tally: _Tally,
        now: float,
        task_id: int,
        end: float,
    ) -> None:
        if now >= end:
            return  # arrivals stop; those already in the system are still served
        tally.arrivals += 1
        self._arrived[task_id] = now
        task = TaskView(task_id, CHANNEL, rank=now, queue_id=QUEUE)
        router.add_task(task)
        worker = router.route(task, now=now)
        if worker is not None:
            self._serve(rng, tally, now, worker.id, task_id)
        elif self.patience is not None:
            self._push(now + rng.expovariate(1.0 / self.patience), ABANDON, task_id)
        self._push(now + rng.expovariate(self.arrivals_per_hour / 3600.0), ARRIVAL, task_id + 1)

    def _serve(
        self, rng: random.Random, tally: _Tally, now: float, worker_id: int, task_id: int
    ) -> None:
        wait = now - self._arrived.pop(task_id)
        tally.answered += 1
        tally.wait_total += wait
        tally.in_threshold += wait <= self.threshold
        handling = rng.expovariate(1.0 / self.aht)
        tally.busy_seconds += handling
        self._push(now + handling, DEPARTURE, worker_id)

    def _figures(self, tally: _Tally, end: float) -> Figures:
        arrivals = max(tally.arrivals, 1)
        return Figures(
            agents=self.agents,
            service_level=tally.in_threshold / arrivals,
            asa=tally.wait_total / tally.answered if tally.answered else 0.0,
            abandon_rate=tally.abandoned / arrivals,
            occupancy=tally.busy_seconds / (self.agents * end) if end else 0.0,
        )
