"""The voice webhooks' writes, group-committed (kit/groupcommit.py, ADR 0002): the steps of
many calls that arrive together share one transaction and one commit, so a busy line costs
a few commits a second instead of one per webhook (on SQLite, one write lock at a time).
Each webhook is still answered only after the commit that holds its step. The calls of a
batch are read together, before its steps run (repository.read_ahead)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.voice import repository
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.groupcommit import GroupCommit

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

Work = Callable[[AsyncSession], Awaitable[Any]]


@dataclass
class StepWork:
    """One webhook's step, and the call it is about: (inbox id, CallSid), if it names one."""

    work: Work
    call: tuple[int, str] | None = None


# The writer of each started runtime of this process (tests run several, one at a time).
_WRITERS: dict[int, StepWriter] = {}


class StepWriter:
    def __init__(self, runtime: Runtime) -> None:
        self.key = id(runtime)
        self.group: GroupCommit[StepWork, Any] = GroupCommit(runtime.db, _write_many, name="voice")

    async def start(self) -> None:
        _WRITERS[self.key] = self

    async def stop(self) -> None:
        _WRITERS.pop(self.key, None)
        await self.group.stop()


async def _write_many(session: AsyncSession, works: list[StepWork]) -> Sequence[Any]:
    """Each step in turn, once the batch's calls are read. A step refused as bad input
    refuses before it writes anything, so its refusal is its answer alone; anything else
    raised replays the batch one by one."""
    await repository.read_ahead(session, [item.call for item in works if item.call is not None])
    outcomes: list[Any] = []
    for item in works:
        try:
            outcomes.append(await item.work(session))
        except FrontdeskError as exc:
            outcomes.append(exc)
    await settle(session, outcomes)
    return outcomes


async def settle(session: AsyncSession, outcomes: list[Any]) -> None:
    """What the steps left to the end of their batch: the queue positions of the callers
    still waiting, and the jobs they queue (each such outcome becomes its answer)."""
    turns = [outcome for outcome in outcomes if isinstance(outcome, repository.Waiting)]
    await repository.place_in_queues(session, turns)
    queued = [outcome for outcome in outcomes if isinstance(outcome, repository.Queued)]
    await repository.enqueue_queued(session, queued)
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, repository.Queued):
            outcomes[index] = outcome.answer


def writer_of(runtime: Runtime) -> StepWriter | None:
    return _WRITERS.get(id(runtime))


def make_writer(runtime: Runtime) -> StepWriter:
    return StepWriter(runtime)
