"""The in-memory indexed router: the engine's decisions at scale, for one process that owns
its agents and tasks (the simulator, the benchmark, and any caller that keeps state in memory).

Indexes. Each agent's queues are found once, when the agent is added or changes (a queue's
agent expression evaluated over the agent's attributes). Waiting tasks sit in one heap per
(queue, channel) ordered by (rank, id); tasks that narrow their queue further (an agent
expression, required skills, a rejection) sit in a small per-queue side list that is scanned.
Agents with room sit per queue in (idle since, id) order, in two parts: an insertion-ordered
tail that takes an agent whose key is past every key it took before (the usual case: an agent
who just took or finished work is idle since now, so they go last), and a heap for the others
(agents added with an older idle time). A decision then costs (the agent's queues) *
log(tasks) for a pull, and log(agents) at most for a push, instead of a scan.

Task heaps and the agents' heap are lazy: a removed task or a changed agent leaves a stale
entry that is skipped (tasks by membership, agents by a version stamp). The tail is not: a
changed agent is taken out of it at once (O(1)), so its stale entries never have to be popped
through a big heap later, which was most of a decision's cost."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from frontdesk.routing.engine import TaskView, Worker, constrained, suits, worker_env
from frontdesk.routing.expressions import Expression


@dataclass
class Router:
    queues: Mapping[int, Expression]
    workers: dict[int, Worker] = field(default_factory=dict)
    waiting: dict[int, TaskView] = field(default_factory=dict)
    _eligible: dict[int, tuple[int, ...]] = field(default_factory=dict)  # agent → queues
    _tasks: dict[tuple[int, str], list[tuple[float, int]]] = field(default_factory=dict)
    _narrow: dict[int, dict[int, TaskView]] = field(default_factory=dict)  # queue → tasks
    _idle: dict[int, list[tuple[float, int, int]]] = field(default_factory=dict)
    _version: dict[int, int] = field(default_factory=dict)
    # queue → agent → (idle since, id), in increasing order; _last: the largest key ever put in
    _tail: dict[int, OrderedDict[int, tuple[float, int]]] = field(default_factory=dict)
    _last: dict[int, tuple[float, int]] = field(default_factory=dict)

    # Agents

    def add_worker(self, worker: Worker) -> None:
        """Add or replace an agent; their queues are evaluated again."""
        self.workers[worker.id] = worker
        env = worker_env(worker.attributes)
        self._eligible[worker.id] = tuple(
            queue_id for queue_id, expression in self.queues.items() if expression.matches(env)
        )
        self._changed(worker)

    def eligible_queues(self, worker_id: int) -> tuple[int, ...]:
        return self._eligible.get(worker_id, ())

    def set_available(self, worker_id: int, available: bool, *, now: float) -> None:
        worker = self.workers[worker_id]
        if worker.available != available:
            worker.available = available
            worker.idle_since = now
            self._changed(worker)

    def release(self, worker_id: int, channel: str, *, now: float) -> None:
        """The agent finished a task of `channel`: the slot is free again."""
        worker = self.workers[worker_id]
        worker.release(channel)
        worker.idle_since = now
        self._changed(worker)

    def _changed(self, worker: Worker) -> None:
        version = self._version.get(worker.id, 0) + 1
        self._version[worker.id] = version
        room = worker.available and any(worker.free(ch) for ch in worker.channels())
        key = (worker.idle_since, worker.id)
        for queue_id in self._eligible[worker.id]:
            tail = self._tail.get(queue_id)
            if tail is None:
                tail = self._tail[queue_id] = OrderedDict()
            tail.pop(worker.id, None)
            if not room:
                continue
            last = self._last.get(queue_id)
            if last is None or key >= last:  # keeps the tail sorted by (idle since, id)
                tail[worker.id] = self._last[queue_id] = key
            else:
                heapq.heappush(self._idle.setdefault(queue_id, []), (*key, version))

    # Tasks

    def add_task(self, task: TaskView) -> None:
        """A task starts waiting in its queue."""
        if task.queue_id is None:
            raise ValueError("a waiting task needs a queue")
        self.waiting[task.id] = task
        if constrained(task):
            self._narrow.setdefault(task.queue_id, {})[task.id] = task
        else:
            heapq.heappush(self._tasks.setdefault((task.queue_id, task.channel), []), task.key)

    def remove_task(self, task_id: int) -> TaskView | None:
        """The task left the queue (abandoned, canceled, moved); its heap entry goes stale."""
        task = self.waiting.pop(task_id, None)
        if task is not None and task.queue_id is not None:
            self._narrow.get(task.queue_id, {}).pop(task_id, None)
        return task

    # Decisions

    def route(self, task: TaskView, *, now: float) -> Worker | None:
        """Push: give a waiting task to the eligible agent idle longest, if one has room."""
        queue_id = task.queue_id if task.queue_id is not None else -1
        heap = self._idle.get(queue_id, [])
        tail = iter(self._tail.get(queue_id, {}).items())
        following = next(tail, None)
        skipped: list[tuple[float, int, int]] = []
        chosen: Worker | None = None
        while True:
            while heap and self._version.get(heap[0][1]) != heap[0][2]:
                heapq.heappop(heap)  # stale: the agent changed since
            if heap and (following is None or heap[0][:2] < following[1]):
                worker = self.workers[heap[0][1]]
                if worker.free(task.channel) and suits(worker, task):
                    chosen = worker
                    break
                skipped.append(heapq.heappop(heap))
            elif following is not None:
                worker = self.workers[following[0]]
                if worker.free(task.channel) and suits(worker, task):
                    chosen = worker
                    break
                following = next(tail, None)
            else:
                break
        for entry in skipped:
            heapq.heappush(heap, entry)
        if chosen is not None:
            self._assign(chosen, task, now=now)
        return chosen

    def take_next(
        self,
        worker_id: int,
        *,
        now: float,
        prefer: Callable[[Worker, TaskView], Any] | None = None,
    ) -> TaskView | None:
        """Pull: the agent takes the first-ranked waiting task they may work.

        `prefer` (the simulator's baselines) orders the candidates instead of their rank; the
        candidates are the same (each queue's first task per channel, and its narrowed ones)."""
        worker = self.workers[worker_id]
        best: TaskView | None = None
        if prefer is not None:
            return self._take_preferred(worker, prefer, now=now)
        for candidate in self._candidates(worker):
            if best is None or (candidate.rank, candidate.id) < (best.rank, best.id):
                best = candidate
        if best is not None:
            self._assign(worker, best, now=now)
        return best

    def _take_preferred(
        self, worker: Worker, prefer: Callable[[Worker, TaskView], Any], *, now: float
    ) -> TaskView | None:
        candidates = list(self._candidates(worker))
        best = min(candidates, key=lambda task: prefer(worker, task)) if candidates else None
        if best is not None:
            self._assign(worker, best, now=now)
        return best

    def _candidates(self, worker: Worker) -> Iterator[TaskView]:
        if not worker.available:
            return
        free = [channel for channel in worker.channels() if worker.free(channel)]
        tasks, waiting = self._tasks, self.waiting
        for queue_id in self._eligible.get(worker.id, ()):
            for channel in free:
                heap = tasks.get((queue_id, channel))
                while heap:
                    rank, task_id = heap[0]
                    task = waiting.get(task_id)
                    if task is not None and task.rank == rank:
                        yield task
                        break
                    heapq.heappop(heap)  # stale: the task left or was re-ranked
            narrow = self._narrow.get(queue_id)
            if narrow:
                for task in narrow.values():
                    if task.channel in free and suits(worker, task):
                        yield task

    def _assign(self, worker: Worker, task: TaskView, *, now: float) -> None:
        self.remove_task(task.id)
        worker.take(task.channel)
        worker.idle_since = now
        self._changed(worker)

    def position(self, task_id: int) -> int | None:
        """1-based place of a waiting task among its queue's waiting tasks (for the visitor)."""
        task = self.waiting.get(task_id)
        if task is None:
            return None
        ahead = sum(
            1
            for other in self.waiting.values()
            if other.queue_id == task.queue_id and other.key < task.key
        )
        return ahead + 1
