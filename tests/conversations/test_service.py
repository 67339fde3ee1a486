from __future__ import annotations

import asyncio

from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.receiving import Received, receive_many
from frontdesk.conversations.service import receive
from frontdesk.customers.models import Customer, Identity, customer_search_key
from frontdesk.inboxes.port import Inbound
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


async def receive_batch(runtime, inbox_id: int, said: list[tuple[str, dict]]) -> list[Received]:
    """Receive (sender, threading) pairs as one batch; message n has external id <tn@x>."""
    inbounds = [
        Inbound(
            inbox_id=inbox_id,
            external_id=f"<t{n}@x>",
            address=address,
            text=f"message {n}",
            **threading,
        )
        for n, (address, threading) in enumerate(said, start=1)
    ]
    async with runtime.db.session() as session:
        outcomes = await receive_many(session, inbounds, blobs=runtime.blobs)
        await uow.commit(session)
    assert all(isinstance(outcome, Received) for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


LAYLA, OMAR, MALLORY = "layla@example.com", "omar@example.com", "mallory@example.com"


class TestReceiveManyThreading:
    """A batch threads its messages as if they had come one at a time."""

    async def test_a_reply_finds_the_message_it_answers_earlier_in_the_batch(self, runtime, cast):
        first, other, reply, reply_to_reply = await receive_batch(
            runtime,
            cast.website.id,
            [
                (LAYLA, {"thread": "t:1"}),
                (OMAR, {"thread": "t:2"}),
                (LAYLA, {"thread": "t:3", "references": ["<t1@x>"]}),
                (LAYLA, {"thread": "t:4", "references": ["<t0@x>", "<t3@x>"]}),
            ],
        )
        assert reply.conversation.id == first.conversation.id
        assert reply_to_reply.conversation.id == first.conversation.id
        assert other.conversation.id != first.conversation.id

    async def test_a_stranger_referencing_an_earlier_message_is_kept_apart(self, runtime, cast):
        original, forged = await receive_batch(
            runtime,
            cast.website.id,
            [(LAYLA, {"thread": "t:1"}), (MALLORY, {"thread": "t:2", "references": ["<t1@x>"]})],
        )
        assert forged.conversation.id != original.conversation.id
        assert forged.message.meta["possible_spoof"] == {
            "conversation_ids": [original.conversation.id]
        }

    async def test_messages_of_one_thread_key_share_a_conversation(self, runtime, cast):
        one, two, plain, other = await receive_batch(
            runtime,
            cast.website.id,
            [
                (LAYLA, {"thread": "t:same"}),
                (LAYLA, {"thread": "t:same"}),
                (LAYLA, {}),
                (OMAR, {"thread": "t:same"}),
            ],
        )
        assert two.conversation.id == one.conversation.id
        # One at a time, the plain message would join Layla's newest active conversation.
        assert plain.conversation.id == one.conversation.id
        assert other.conversation.id != one.conversation.id


async def said(runtime, inbox_id: int, external_id: str) -> Received:  # type: ignore[no-untyped-def]
    inbound = Inbound(
        inbox_id=inbox_id, external_id=external_id, address="nour.k@example.com", text="hello"
    )
    async with runtime.db.session() as session:
        [outcome] = await receive_many(session, [inbound], blobs=runtime.blobs)
        await uow.commit(session)
    assert isinstance(outcome, Received)
    return outcome


class TestReceiveWrites:
    async def test_a_first_message_stores_its_customer_and_conversation_without_updates(
        self, runtime, cast
    ):
        """A new customer's search key and a new conversation's timestamps go in with their
        INSERTs: no statement reads them back or updates them. A later message moves the
        conversation on (an UPDATE, as before)."""
        engine = runtime.db.engine.sync_engine
        statements: list[str] = []

        def grab(conn, cursor, sql, *args):  # type: ignore[no-untyped-def]
            statements.append(" ".join(sql.split()))

        sa_event.listen(engine, "before_cursor_execute", grab)
        try:
            first = await said(runtime, cast.website.id, "n-1")
            opened = [sql for sql in statements if sql.startswith("UPDATE")]
            statements.clear()
            second = await said(runtime, cast.website.id, "n-2")
        finally:
            sa_event.remove(engine, "before_cursor_execute", grab)
        assert opened == []
        assert any(sql.startswith("UPDATE conversations") for sql in statements)
        async with runtime.db.session() as session:
            customer = await session.get(Customer, first.message.customer_id)
            conversation = await session.get(Conversation, first.conversation.id)
            assert customer is not None and conversation is not None
            assert customer.search_key == customer_search_key(None, ["nour.k@example.com"], {})
            assert second.conversation.id == conversation.id
            assert conversation.last_message_at == conversation.updated_at
            assert conversation.sort_at == conversation.last_message_at
            assert conversation.created_at < conversation.last_message_at
