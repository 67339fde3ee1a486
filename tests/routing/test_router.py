"""The engine's decisions and the indexed router: ranks, eligibility, capacity, FIFO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.routing.engine import (
    PRIORITY_SECONDS,
    TOTAL,
    URGENCY_LEAD,
    TaskView,
    Worker,
    choose_agent,
    choose_task,
    effective_priority,
    rank_at,
    suits,
)
from frontdesk.routing.expressions import parse
from frontdesk.routing.router import Router

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BILLING, ARABIC = 1, 2
QUEUES = {BILLING: parse("skills HAS 'billing'"), ARABIC: parse("languages HAS 'ar'")}


def worker(id: int, *, skills: dict[str, int] | None = None, **capacity: int) -> Worker:
    return Worker(id, {"skills": skills or {}, "languages": []}, dict(capacity) or {"chat": 1})


class TestRank:
    def test_priority_counts_as_waiting(self) -> None:
        assert rank_at(NOW, 2, None) == NOW - timedelta(seconds=2 * PRIORITY_SECONDS)

    def test_near_breach_outranks_an_older_task(self) -> None:
        older = rank_at(NOW - timedelta(minutes=5), 0, None)
        urgent = rank_at(NOW, 0, NOW + timedelta(minutes=1))
        assert urgent < older

    def test_a_far_due_time_never_pushes_a_task_back(self) -> None:
        assert rank_at(NOW, 0, NOW + timedelta(days=3)) == NOW

    def test_priority_never_outranks_sla_urgency(self) -> None:
        # A 15-second target: whatever the priority, the task ranks at its urgency point,
        # never ahead of one due sooner.
        due = NOW + timedelta(seconds=15)
        assert rank_at(NOW, 100, due) == rank_at(NOW, 0, due) == due - URGENCY_LEAD
        sooner = rank_at(NOW - timedelta(seconds=10), 0, due - timedelta(seconds=1))
        assert sooner < rank_at(NOW, 100, due)

    def test_priority_counts_as_far_as_the_sla_leaves_slack(self) -> None:
        # Four hours to go: two points (10 minutes) count in full...
        far = NOW + timedelta(hours=4)
        assert rank_at(NOW, 2, far) == NOW - timedelta(seconds=2 * PRIORITY_SECONDS)
        # ...but never past the urgency point.
        near = NOW + URGENCY_LEAD + timedelta(minutes=3)
        assert rank_at(NOW, 5, near) == NOW - timedelta(minutes=3)
        # A negative priority delays a task, but never past its urgency point.
        assert rank_at(NOW, -1, NOW + timedelta(minutes=31)) == NOW + timedelta(minutes=1)

    def test_effective_priority_grows_with_age(self) -> None:
        rank = rank_at(NOW, 1, None)
        assert effective_priority(rank, NOW) == 1.0
        assert effective_priority(rank, NOW + timedelta(seconds=PRIORITY_SECONDS)) == 2.0


class TestCapacity:
    def test_reserved_chat_slot_is_kept_from_work_items(self) -> None:
        agent = Worker(1, {}, {"chat": 2, "backoffice": 3, TOTAL: 3}, reserved={"chat": 1})
        for _ in range(2):
            assert agent.free("backoffice")
            agent.take("backoffice")
        assert not agent.free("backoffice")  # its channel has room, but the last slot is chat's
        assert agent.free("chat")

    def test_channel_capacity_bounds(self) -> None:
        agent = worker(1, chat=1)
        agent.take("chat")
        assert not agent.free("chat") and not agent.free("email")


class TestChoosing:
    def test_push_picks_the_longest_idle_eligible_agent(self) -> None:
        task = TaskView(1, "chat", 0.0, BILLING, {"skills": ["billing"]})
        skilled = [worker(1, skills={"billing": 1}), worker(2, skills={"billing": 3})]
        skilled[0].idle_since, skilled[1].idle_since = 50.0, 10.0
        unskilled = worker(3)
        unskilled.idle_since = 0.0
        chosen = choose_agent(task, [*skilled, unskilled])
        assert chosen is not None and chosen.id == 2

    def test_sticky_agent_expression_reads_the_task(self) -> None:
        task = TaskView(1, "chat", 0.0, 1, {"last_agent_id": 7}, parse("id == task.last_agent_id"))
        assert suits(Worker(7, {"id": 7}, {"chat": 1}), task)
        assert not suits(Worker(8, {"id": 8}, {"chat": 1}), task)

    def test_a_rejecting_agent_is_not_offered_again(self) -> None:
        task = TaskView(1, "chat", 0.0, 1, rejected_by=frozenset({1}))
        assert choose_agent(task, [worker(1)]) is None

    def test_pull_picks_first_ranked_ties_by_id(self) -> None:
        tasks = [
            TaskView(3, "chat", 5.0, 1),
            TaskView(2, "chat", 5.0, 1),
            TaskView(1, "chat", 9.0, 1),
        ]
        chosen = choose_task(worker(1), tasks)
        assert chosen is not None and chosen.id == 2


class TestRouter:
    def test_pull_takes_the_best_task_of_the_agents_queues(self) -> None:
        router = Router(QUEUES)
        router.add_worker(worker(1, skills={"billing": 2}))
        router.add_task(TaskView(1, "chat", 10.0, ARABIC))
        router.add_task(TaskView(2, "chat", 20.0, BILLING))
        router.add_task(TaskView(3, "chat", 15.0, BILLING))
        taken = router.take_next(1, now=0.0)
        assert taken is not None and taken.id == 3
        assert router.take_next(1, now=0.0) is None  # at capacity

    def test_push_works_in_queue_zero(self) -> None:
        # A queue id of 0 is a queue like any other (it was once read as "no queue").
        router = Router({0: parse("TRUE")})
        router.add_worker(worker(1))
        task = TaskView(1, "chat", 1.0, 0)
        router.add_task(task)
        chosen = router.route(task, now=1.0)
        assert chosen is not None and chosen.id == 1

    def test_push_waits_when_nobody_has_room(self) -> None:
        router = Router(QUEUES)
        router.add_worker(worker(1, skills={"billing": 2}))
        first, second = TaskView(1, "chat", 1.0, BILLING), TaskView(2, "chat", 2.0, BILLING)
        router.add_task(first)
        router.add_task(second)
        assert router.route(first, now=1.0) is not None
        assert router.route(second, now=2.0) is None
        assert router.position(2) == 1
        router.release(1, "chat", now=3.0)
        assert router.take_next(1, now=3.0) == second


_ops = st.lists(
    st.tuples(st.sampled_from(["task", "pull", "push", "done", "away", "back"]),
              st.integers(0, 7), st.integers(0, 2), st.sampled_from(["chat", "email"]),
              st.integers(0, 3)),
    max_size=120,
)  # fmt: skip


class TestInvariants:
    @settings(max_examples=150, deadline=None)
    @given(_ops)
    def test_never_over_capacity_one_agent_per_task_only_eligible_fifo(
        self, ops: list[tuple[str, int, int, str, int]]
    ) -> None:
        queues = {0: parse("TRUE"), 1: parse("skills HAS 'billing'"), 2: parse("tier == 'L2'")}
        router = Router(queues)
        for id in range(8):
            skills = {"billing": 1} if id % 2 else {}
            attributes = {"skills": skills, "tier": ("L1", "L2")[id % 3 == 0]}
            capacity = {"chat": 2, "email": 1, TOTAL: 2}
            # idle times out of id order, so the router's heap (not only its tail) is used
            idle = -float(id * 5 % 8)
            router.add_worker(
                Worker(id, attributes, capacity, reserved={"chat": 1}, idle_since=idle)
            )
        held: dict[int, tuple[int, TaskView]] = {}
        next_id = 0
        for clock, (op, agent, queue, channel, rank) in enumerate(ops):
            if op == "task":
                next_id += 1
                router.add_task(TaskView(next_id, channel, float(rank), queue))
                continue
            if op in ("away", "back"):
                router.set_available(agent, op == "back", now=clock)
                continue
            if op == "done":
                mine = [tid for tid, (a, _) in held.items() if a == agent]
                if mine:
                    router.release(agent, held.pop(mine[0])[1].channel, now=clock)
                continue
            before = {t.id: t for t in router.waiting.values()}
            if op == "pull":
                task = router.take_next(agent, now=clock)
                if task is None:
                    continue
                who = router.workers[agent]
                # first in, first out among what this agent could take
                assert task.key == min(
                    t.key for t in before.values()
                    if t.queue_id in router.eligible_queues(agent) and t.channel == task.channel
                )  # fmt: skip
            else:
                waiting = sorted(before.values(), key=lambda t: t.key)
                if not waiting:
                    continue
                task = waiting[0]
                # the reference: a scan of every eligible agent (longest idle, then lowest id)
                expected = choose_agent(task, (
                    w for w in router.workers.values()
                    if task.queue_id in router.eligible_queues(w.id)
                ))  # fmt: skip
                chosen = router.route(task, now=clock)
                assert (chosen and chosen.id) == (expected and expected.id)
                if chosen is None:
                    continue
                who = chosen
            assert task.id not in held, "a task went to two agents"
            assert task.queue_id in router.eligible_queues(who.id), "an ineligible agent"
            held[task.id] = (who.id, task)
            for w in router.workers.values():
                counts: dict[str, int] = {}
                for a, t in held.values():
                    if a == w.id:
                        counts[t.channel] = counts.get(t.channel, 0) + 1
                assert counts.get("chat", 0) <= 2 and counts.get("email", 0) <= 1
                assert sum(counts.values()) <= 2, "over total capacity"
