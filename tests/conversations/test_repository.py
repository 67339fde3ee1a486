from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select

from frontdesk.conversations import repository
from frontdesk.conversations.models import PendingProviderUpdate
from frontdesk.conversations.receiving import receive_many
from frontdesk.conversations.service import set_status
from frontdesk.inboxes.port import Inbound
from frontdesk.kit import uow


async def test_find_active_many_reads_only_the_batch_customers(runtime, cast):
    """The newest active conversation per (inbox, customer) — and on SQLite the query is led
    by the customers (ix_conversations_customer_inbox), not by the inbox or the status, which
    would read every conversation of the inbox for each batch."""
    async with runtime.db.session() as session:
        inbounds = [
            Inbound(
                inbox_id=cast.website.id,
                external_id=f"m{n}",
                address=f"c{n % 30}@example.com",
                text="hello",
            )
            for n in range(60)
        ]
        received = [r for r in await receive_many(session, inbounds, blobs=runtime.blobs)]
        await uow.commit(session)
    first = received[0].conversation  # type: ignore[union-attr]
    async with runtime.db.session() as session:
        conversation = await repository.get_conversation(session, first.id)
        assert conversation is not None
        await set_status(session, conversation, "resolved")
        await uow.commit(session)
    keys = {(cast.website.id, r.conversation.customer_id) for r in received[:3]}  # type: ignore[union-attr]

    statements: list[str] = []

    def grab(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM conversations" in statement:
            statements.append((statement, parameters))

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        async with runtime.db.session() as session:
            found = await repository.find_active_many(session, keys)
            if runtime.db.is_postgres:
                plan = None
            else:
                connection = await session.connection()
                [(sql, parameters)] = statements
                plan = " ".join(
                    row[-1]
                    for row in (
                        await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)
                    ).all()
                )
    finally:
        event.remove(engine, "before_cursor_execute", grab)

    first_key = (cast.website.id, first.customer_id)
    assert first_key not in found  # resolved: not active
    assert (
        {key: c.id for key, c in found.items()}
        == {
            (cast.website.id, r.conversation.customer_id): r.conversation.id  # type: ignore[union-attr]
            for r in received[1:3]
        }
    )
    if plan is not None:
        assert "USING INDEX ix_conversations_customer_inbox (customer_id=?)" in plan, plan
        assert "ix_conversations_inbox_id" not in plan and "ix_conversations_status" not in plan


async def test_take_pending_updates_takes_exactly_the_pairs_asked_for(runtime, cast):
    """Kept notices are looked up by (inbox, provider id) pairs: a notice of one inbox with
    the id another inbox's message got is neither taken nor deleted."""
    website, app = cast.website.id, cast.app.id
    async with runtime.db.session() as session:
        kept = ((website, "p-a"), (app, "p-b"), (website, "p-b"), (app, "p-a"))
        for inbox_id, provider_id in kept:
            session.add(
                PendingProviderUpdate(
                    inbox_id=inbox_id, provider_message_id=provider_id, kind="status",
                    payload={"status": "delivered"},
                )
            )  # fmt: skip
        await uow.commit(session)
    async with runtime.db.session() as session:
        taken = await repository.take_pending_updates(session, {(website, "p-a"), (app, "p-b")})
        await uow.commit(session)
    assert [(row.inbox_id, row.provider_message_id) for row in taken] == [
        (website, "p-a"),
        (app, "p-b"),
    ]
    async with runtime.db.session() as session:
        left = (await session.execute(
            select(PendingProviderUpdate.inbox_id, PendingProviderUpdate.provider_message_id)
            .order_by(PendingProviderUpdate.id)
        )).tuples().all()  # fmt: skip
    assert left == [(website, "p-b"), (app, "p-a")]


class TestTaggingAtOnce:
    """Two transactions tag one conversation with the same new tag at once (the worker's
    sentiment and at-risk batches both tag `at-risk`): both succeed, one tag, one link. It
    failed on the unique name or the link's key, and a batch then redid each job alone."""

    pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

    async def test_both_succeed_and_the_tag_is_linked_once(self, runtime, cast):  # type: ignore[no-untyped-def]
        from frontdesk.conversations.models import ConversationTag, Tag

        async with runtime.db.session() as session:
            inbound = Inbound(
                inbox_id=cast.website.id, external_id="t1", address="t@example.com", text="hi"
            )
            [received] = await receive_many(session, [inbound], blobs=runtime.blobs)
            await uow.commit(session)
        conversation_id = received.conversation.id  # type: ignore[union-attr]
        first_tagged = asyncio.Event()

        async def tag(first: bool) -> None:
            async with runtime.db.session() as session:
                if not first:
                    await first_tagged.wait()  # the first holds its new rows, uncommitted
                await repository.add_tag(session, conversation_id, "at-risk")
                if first:
                    first_tagged.set()
                    await asyncio.sleep(0.3)  # the second meets the first's rows meanwhile
                await uow.commit(session)

        await asyncio.wait_for(asyncio.gather(tag(True), tag(False)), 20)
        async with runtime.db.session() as session:
            tags = list(await session.scalars(select(Tag.id).where(Tag.name == "at-risk")))
            links = list(
                await session.scalars(
                    select(ConversationTag.tag_id).where(
                        ConversationTag.conversation_id == conversation_id
                    )
                )
            )
        assert len(tags) == 1
        assert links == tags
