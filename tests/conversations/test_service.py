from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from frontdesk.channels.base import Inbound
from frontdesk.conversations.models import Message
from frontdesk.conversations.service import receive
from frontdesk.customers.models import Customer, Identity
from frontdesk.kit import uow


class TestReceiveConcurrency:
    async def test_separate_transactions_racing_on_one_message_store_it_once(self, runtime, cast):
        """Without the ingestor's batching: three transactions race on the unique constraints
        (new customer identity and message external id); the losers retry and see the winner."""

        async def attempt() -> bool:
            async with runtime.db.session() as session:
                inbound = Inbound(
                    inbox_id=cast.website.id,
                    external_id="race-1",
                    address="racer@example.com",
                    text="first",
                )

                async def work():  # type: ignore[no-untyped-def]
                    return await receive(session, inbound, blobs=runtime.blobs)

                return (await uow.retrying(session, work)).duplicate

        flags = await asyncio.gather(*(attempt() for _ in range(3)))
        assert sorted(flags) == [False, True, True]
        async with runtime.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Message)) == 1
            assert await session.scalar(select(func.count()).select_from(Customer)) == 1
            assert await session.scalar(select(func.count()).select_from(Identity)) == 1

    async def test_ingestor_batch_survives_one_bad_message(self, runtime, cast):
        good = [
            Inbound(
                inbox_id=cast.website.id, external_id=f"g{i}", address=f"u{i}@example.com", text="x"
            )
            for i in range(5)
        ]
        bad = Inbound(inbox_id=cast.website.id, external_id="bad", address="a@b@c", text="x")
        unknown = Inbound(inbox_id=999, external_id="u", address="z@example.com", text="x")
        results = await asyncio.gather(
            *(runtime.ingestor.receive(item) for item in [*good, bad, unknown]),
            return_exceptions=True,
        )
        assert [type(r).__name__ for r in results[5:]] == ["Invalid", "NotFound"]
        assert all(not r.duplicate for r in results[:5])  # type: ignore[union-attr]
        async with runtime.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Message)) == 5
