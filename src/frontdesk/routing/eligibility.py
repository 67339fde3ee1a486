"""The database router's eligibility index, one per process: which queues each agent is in.

A routing pass used to evaluate every queue's expression for every available agent. Here an
agent's queues are evaluated once per (queue set, agent attributes) and kept: a pass costs one
fingerprint of each agent's attributes and a dictionary look-up, and expressions run again only
for an agent whose attributes changed (skills, languages, tier, teams, ...) or when any queue
is added, removed or changes its expression. Nothing is shared between processes or trusted
across changes: the key is the data itself, so a stale entry can never be read."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from frontdesk.routing import engine
from frontdesk.routing.expressions import Expression, parse

QueueKey = tuple[tuple[int, str], ...]
MAX_AGENTS = 50_000  # entries kept; past it the index starts again (bounded memory)


@lru_cache(maxsize=4096)
def parsed(source: str) -> Expression:
    """An expression parsed once per process (expressions are immutable text)."""
    return parse(source)


class EligibilityIndex:
    def __init__(self) -> None:
        self._queues: QueueKey = ()
        self._by_agent: dict[int, tuple[str, frozenset[int]]] = {}
        self.evaluations = 0  # expression evaluations done (for tests and curiosity)

    def queues_of(
        self, queues: Sequence[tuple[int, str]], agents: Mapping[int, Mapping[str, Any]]
    ) -> dict[int, set[int]]:
        """queue id → the agents (of `agents`, id → attributes) its expression selects."""
        key: QueueKey = tuple(sorted(queues))
        if key != self._queues or len(self._by_agent) > MAX_AGENTS:
            self._queues, self._by_agent = key, {}
        members: dict[int, set[int]] = {queue_id: set() for queue_id, _ in key}
        for agent_id, attributes in agents.items():
            fingerprint = json.dumps(attributes, sort_keys=True, default=str)
            known = self._by_agent.get(agent_id)
            if known is None or known[0] != fingerprint:
                env = engine.worker_env(attributes)
                self.evaluations += len(key)
                found = frozenset(q for q, source in key if parsed(source).matches(env))
                known = self._by_agent[agent_id] = (fingerprint, found)
            for queue_id in known[1]:
                members[queue_id].add(agent_id)
        return members


INDEX = EligibilityIndex()
