"""The voice webhooks' writes, group-committed (kit/groupcommit.py, ADR 0002): the steps of
many calls that arrive together share one transaction and one commit, so a busy line costs
a few commits a second instead of one per webhook (on SQLite, one write lock at a time).
Each webhook is still answered only after the commit that holds its step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.groupcommit import GroupCommit

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

Work = Callable[[AsyncSession], Awaitable[Any]]
# The writer of each started runtime of this process (tests run several, one at a time).
_WRITERS: dict[int, StepWriter] = {}


class StepWriter:
    def __init__(self, runtime: Runtime) -> None:
        self.key = id(runtime)
        self.group: GroupCommit[Work, Any] = GroupCommit(runtime.db, _write_many, name="voice")

    async def start(self) -> None:
        _WRITERS[self.key] = self

    async def stop(self) -> None:
        _WRITERS.pop(self.key, None)
        await self.group.stop()


async def _write_many(session: AsyncSession, works: list[Work]) -> Sequence[Any]:
    """Each step in turn. A step refused as bad input refuses before it writes anything, so
    its refusal is its answer alone; anything else raised replays the batch one by one."""
    outcomes: list[Any] = []
    for work in works:
        try:
            outcomes.append(await work(session))
        except FrontdeskError as exc:
            outcomes.append(exc)
    return outcomes


def writer_of(runtime: Runtime) -> StepWriter | None:
    return _WRITERS.get(id(runtime))


def make_writer(runtime: Runtime) -> StepWriter:
    return StepWriter(runtime)
