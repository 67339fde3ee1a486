"""The database router's eligibility index: the same queues as evaluating every expression for
every agent, and expressions run again only for what changed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.routing import engine
from frontdesk.routing.eligibility import EligibilityIndex
from frontdesk.routing.expressions import parse

QUEUES = [
    (1, "skills HAS 'billing'"),
    (2, "languages HAS 'ar' AND tier IN ['L2', 'L3']"),
    (3, "skills.refunds >= 3 OR teams HAS 'Support'"),
    (4, "TRUE"),
]

agent = st.fixed_dictionaries(
    {
        "skills": st.dictionaries(st.sampled_from(["billing", "refunds"]), st.integers(1, 5)),
        "languages": st.lists(st.sampled_from(["ar", "en", "fa"]), unique=True),
        "tier": st.sampled_from(["L1", "L2", "L3"]),
        "teams": st.lists(st.sampled_from(["Support", "Billing"]), unique=True),
    }
)


def naive(queues, agents):  # type: ignore[no-untyped-def]
    return {
        queue_id: {
            a for a, attrs in agents.items() if parse(source).matches(engine.worker_env(attrs))
        }
        for queue_id, source in queues
    }


class TestIndex:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.dictionaries(st.integers(1, 8), agent, max_size=8), min_size=1, max_size=4))
    def test_same_as_evaluating_everything(self, passes) -> None:  # type: ignore[no-untyped-def]
        index = EligibilityIndex()
        for agents in passes:  # agents come, go and change between passes
            assert index.queues_of(QUEUES, agents) == naive(QUEUES, agents)

    def test_only_changed_agents_are_evaluated_again(self) -> None:
        index = EligibilityIndex()
        agents = {
            i: {"skills": {"billing": 1}, "languages": ["ar"], "tier": "L2", "teams": []}
            for i in range(1, 101)
        }
        index.queues_of(QUEUES, agents)
        assert index.evaluations == 100 * len(QUEUES)
        found = index.queues_of(QUEUES, agents)
        assert index.evaluations == 100 * len(QUEUES)  # nothing changed: no expression ran
        assert found[1] == set(range(1, 101))
        agents[7] = {**agents[7], "skills": {}}
        found = index.queues_of(QUEUES, agents)
        assert index.evaluations == 101 * len(QUEUES)
        assert 7 not in found[1] and 7 in found[4]

    def test_a_changed_queue_evaluates_every_agent_again(self) -> None:
        index = EligibilityIndex()
        agents = {1: {"skills": {"billing": 1}, "languages": [], "tier": "L1", "teams": []}}
        assert index.queues_of(QUEUES, agents)[1] == {1}
        changed = [(1, "skills HAS 'refunds'"), *QUEUES[1:]]
        assert index.queues_of(changed, agents)[1] == set()
        assert index.queues_of(QUEUES[:2], agents) == {1: {1}, 2: set()}
