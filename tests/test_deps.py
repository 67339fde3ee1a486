"""deps.py: what a request's transactions are. On SQLite a request that only reads (GET,
HEAD) and the bearer token's read before a request's writes are read-only transactions,
outside the one write lock; PostgreSQL's transactions are as they were."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import update

from frontdesk.auth.models import Agent
from frontdesk.db import READ_ONLY


class Begins:
    """The kind of every transaction the engine begins while listening."""

    def __init__(self, runtime: Any) -> None:
        self.engine = runtime.db.engine.sync_engine
        self.kinds: list[str] = []

    def note(self, conn: Any) -> None:
        self.kinds.append("read" if conn.get_execution_options().get(READ_ONLY) else "write")

    def __enter__(self) -> list[str]:
        sa_event.listen(self.engine, "begin", self.note)
        return self.kinds

    def __exit__(self, *_: object) -> None:
        sa_event.remove(self.engine, "begin", self.note)


async def test_a_reading_request_answers_while_a_writer_holds_the_lock(client, cast, runtime):  # type: ignore[no-untyped-def]
    await client.get("/api/v1/me", headers=cast.alice.headers)  # the token's use stamped
    async with runtime.db.session() as writer:
        # Holds the write lock (SQLite) until it ends, uncommitted.
        await writer.execute(update(Agent).where(Agent.id == cast.bob.id).values(name="Robert"))
        # On SQLite a writer would wait for it in the writer queue (15 s, then fail).
        with Begins(runtime) as kinds:
            response = await asyncio.wait_for(
                client.get("/api/v1/agents", headers=cast.alice.headers), 5
            )
        assert response.status_code == 200
        assert "Robert" not in response.text
        await writer.rollback()
    assert kinds == (["read", "read"] if runtime.settings.is_sqlite else ["write"])


async def test_a_writing_request_reads_its_token_before_it_takes_the_lock(client, cast, runtime):  # type: ignore[no-untyped-def]
    await client.get("/api/v1/me", headers=cast.ada.headers)  # the token's use stamped
    with Begins(runtime) as kinds:
        response = await client.post(
            "/api/v1/teams", json={"name": "Sales", "agent_ids": []}, headers=cast.ada.headers
        )
    assert response.status_code == 201, response.text
    # SQLite: the token in a read of its own, then the request's writes; PostgreSQL: one.
    assert kinds[:2] == (["read", "write"] if runtime.settings.is_sqlite else ["write"])
