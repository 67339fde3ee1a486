"""inboxes/cache.py: inbox rows for the hot inbound path, read once per expiry even when
many requests arrive together."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from frontdesk.inboxes.cache import InboxCache
from frontdesk.runtime import Runtime


def count_inbox_reads(runtime: Runtime) -> list[str]:
    reads: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM inboxes" in statement:
            reads.append(statement)

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", seen)
    return reads


class TestGet:
    async def test_requests_arriving_together_share_one_read(self, runtime, cast):
        reads = count_inbox_reads(runtime)
        cache = InboxCache(runtime.db)
        found = await asyncio.gather(*(cache.get(cast.website.id) for _ in range(20)))
        assert {inbox.id for inbox in found if inbox is not None} == {cast.website.id}
        assert len(reads) == 1
        await cache.get(cast.website.id)
        assert len(reads) == 1  # fresh: from memory

    async def test_a_forgotten_inbox_is_read_again(self, runtime, cast):
        reads = count_inbox_reads(runtime)
        cache = InboxCache(runtime.db)
        await cache.get(cast.website.id)
        cache.forget(cast.website.id)
        await cache.get(cast.website.id)
        assert len(reads) == 2

    async def test_an_unknown_inbox_is_not_remembered(self, runtime, cast):
        reads = count_inbox_reads(runtime)
        cache = InboxCache(runtime.db)
        assert await cache.get(10**9) is None
        assert await cache.get(10**9) is None
        assert len(reads) == 2
