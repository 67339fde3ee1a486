"""Reads remembered for the rest of one request's transaction.

A desktop page asks for the same small rows from several places — the agents (the timeline's
authors, the assignee menu, the bulk bar), the teams, the agent's preferences, the customer's
identities, the inboxes — and each ask was a statement (~0.4 ms of CPU in SQLAlchemy alone,
plus the round trip). `once` answers a repeated ask from what the first one read, as long as
nothing in the session could have changed the answer:
- the memo is forgotten on every flush, commit and rollback, and whenever the session runs a
  statement that is not a SELECT (an UPDATE, INSERT or DELETE through the ORM or Core);
- it is not used while the session holds unflushed changes (new, deleted or modified rows),
  which the repeated query would have flushed first.
A list or dict answer is handed out as a copy, so a caller that sorts or extends its answer
never changes the next caller's. What another transaction commits meanwhile is seen at this
transaction's next commit or rollback, not at the next ask (PostgreSQL's READ COMMITTED would
show it to a repeated statement): fine within a request, and nothing that loops in one long
transaction may rely on a memoised read to notice others' changes."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

T = TypeVar("T")
MEMO = "frontdesk.memo"


async def once(session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    """`load()`'s answer, read at most once per transaction for `key` (see the module)."""
    sync = session.sync_session
    memo: dict[Hashable, Any] | None = sync.info.get(MEMO)
    if memo is not None and key in memo and _clean(sync):
        return _copy(memo[key])
    value = await load()
    remember(session, key, value)
    return value


def remember(session: AsyncSession, key: Hashable, value: Any) -> None:
    """Keep `value`, read by a larger statement, as `key`'s answer for `once` (see the module)."""
    sync = session.sync_session
    if _clean(sync):
        sync.info.setdefault(MEMO, {})[key] = _copy(value)


def _copy(value: Any) -> Any:
    return copy.copy(value) if isinstance(value, list | dict | set) else value


def _clean(session: Session) -> bool:
    return not session.new and not session.deleted and not session.identity_map.check_modified()


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session: Session, _context: Any) -> None:
    session.info.pop(MEMO, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(MEMO, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_soft_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(MEMO, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_write(state: ORMExecuteState) -> None:
    if not state.is_select and MEMO in state.session.info:
        state.session.info.pop(MEMO, None)
