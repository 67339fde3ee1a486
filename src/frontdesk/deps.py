"""Named dependencies so routes read like sentences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import service as auth_service
from frontdesk.auth.models import Agent
from frontdesk.db import begin_write, read_only_by_default
from frontdesk.kit import uow
from frontdesk.kit.errors import Forbidden, Unauthorized
from frontdesk.runtime import Runtime

SESSION_COOKIE = "fd_session"


async def get_runtime(request: Request) -> Runtime:
    # async: a sync dependency would cost a thread hop on every request.
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# Requests that only read: on SQLite their transactions begin read-only (db.READ_ONLY),
# outside the one write lock; one that must write after all begins it with db.begin_write.
READING_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request, runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    # Views commit explicitly (kit.uow.commit) before they answer: commit, then acknowledge.
    async with runtime.db.session() as session:
        session.info["runtime"] = runtime
        if request.method in READING_METHODS:
            read_only_by_default(session)
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def get_current_agent(request: Request, session: SessionDep) -> Agent:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("missing bearer token", code="unauthenticated")
    # A short read of its own (SQLite: outside the write lock), so that the request's
    # transaction, if it writes, begins (and takes the lock) only after it.
    async with uow.reading(session):
        agent = await auth_service.agent_for_token(session, token)
        stale = agent is not None and await auth_service.token_use_stale(session, token)
    if agent is None:
        raise Unauthorized("invalid or expired token", code="unauthenticated")
    if stale:
        # Its own short transaction, before the request's: a stamp at most every few minutes.
        await begin_write(session)
        if await auth_service.note_token_use(session, token):
            await uow.commit(session)
    return agent


CurrentAgent = Annotated[Agent, Depends(get_current_agent)]


async def get_admin(agent: CurrentAgent) -> Agent:
    if agent.role != "admin":
        raise Forbidden("only admins may do this", code="admin_only")
    return agent


AdminAgent = Annotated[Agent, Depends(get_admin)]
