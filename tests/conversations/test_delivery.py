"""Delivery truth (conversations/delivery.py): provider statuses land on the message, as
events, only forwards; notices that come before their message wait for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from frontdesk.conversations import service
from frontdesk.conversations.delivery import drop_stale_pending, moves_forward
from frontdesk.conversations.models import Conversation, Message, PendingProviderUpdate
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.inboxes.port import Inbound
from frontdesk.kit import uow
from frontdesk.kit.errors import Invalid
from frontdesk.kit.events import Event
from tests.conftest import statements_containing


async def outbound_message(runtime, cast) -> int:  # type: ignore[no-untyped-def]
    """Alice's customer wrote on the website inbox; an agent's reply is queued."""
    received = await runtime.ingestor.receive(
        Inbound(inbox_id=cast.website.id, external_id="in-1", address="c@example.com", text="hi")
    )
    async with runtime.db.session() as session:
        conversation = await session.get(Conversation, received.conversation.id)
        message = await service.reply(
            session, conversation, author=None, data=ReplyCreate(text="hello"), author_kind="bot"
        )
        await uow.commit(session)
    return message.id


async def status(runtime, cast, provider_id: str, value: str, **notice) -> None:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        await service.apply_provider_status(session, cast.website.id, provider_id, value, **notice)
        await uow.commit(session)


async def sent(runtime, message_id: int, provider_id: str) -> None:  # type: ignore[no-untyped-def]
    """What the delivery job does when the provider accepted the message."""
    async with runtime.db.session() as session:
        message = await session.get(Message, message_id)
        await service.mark_delivered(session, message, status="sent", remote_id=provider_id)
        await uow.commit(session)


async def row(runtime, message_id: int) -> Message:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


async def pending(runtime) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return int(
            await session.scalar(select(func.count()).select_from(PendingProviderUpdate)) or 0
        )


class TestOrder:
    @pytest.mark.parametrize(
        ("current", "new", "moves"),
        [
            ("queued", "sent", True),
            ("sent", "delivered", True),
            ("delivered", "read", True),
            ("queued", "read", True),
            ("read", "delivered", False),
            ("delivered", "sent", False),
            ("sent", "queued", False),
            ("sent", "failed", True),
            ("delivered", "failed", False),
            ("read", "failed", False),
            ("failed", "sent", False),
            ("failed", "delivered", True),
            ("failed", "read", True),
            ("received", "read", False),
            ("sent", "sent", False),
        ],
    )
    def test_moves_only_forward(self, current, new, moves):
        assert moves_forward(current, new) is moves


class TestApplyProviderStatus:
    async def test_status_lands_on_the_message_as_an_event(self, runtime, cast):
        message_id = await outbound_message(runtime, cast)
        await sent(runtime, message_id, "wamid.1")
        await status(runtime, cast, "wamid.1", "delivered")
        await status(runtime, cast, "wamid.1", "read")
        message = await row(runtime, message_id)
        assert (message.delivery_status, message.provider_message_id) == ("read", "wamid.1")
        async with runtime.db.session() as session:
            events = (await session.scalars(select(Event).order_by(Event.sequence))).all()
        statuses = [
            e.payload["delivery_status"]
            for e in events
            if e.type == "message.updated" and e.payload["message_id"] == message_id
        ]
        assert statuses == ["sent", "delivered", "read"]

    async def test_never_goes_backwards(self, runtime, cast):
        message_id = await outbound_message(runtime, cast)
        await sent(runtime, message_id, "p-1")
        for value in ("read", "delivered", "sent", "failed"):
            await status(runtime, cast, "p-1", value, code=131047, text="late")
        message = await row(runtime, message_id)
        assert (message.delivery_status, message.delivery_error) == ("read", None)
        assert [s["status"] for s in message.meta["statuses"]] == [
            "read",
            "delivered",
            "sent",
            "failed",
        ]

    async def test_failure_keeps_the_providers_code_and_text(self, runtime, cast):
        message_id = await outbound_message(runtime, cast)
        await sent(runtime, message_id, "p-2")
        await status(runtime, cast, "p-2", "failed", code=30007, text="Carrier violation")
        await status(runtime, cast, "p-2", "sent")  # stale: failed stays
        message = await row(runtime, message_id)
        assert (message.delivery_status, message.delivery_error) == (
            "failed",
            "30007: Carrier violation",
        )
        # Proof of delivery wins over an earlier failure notice.
        await status(runtime, cast, "p-2", "delivered")
        message = await row(runtime, message_id)
        assert (message.delivery_status, message.delivery_error) == ("delivered", None)

    async def test_status_before_its_message_is_kept_and_applied(self, runtime, cast):
        message_id = await outbound_message(runtime, cast)
        # The provider's webhook is faster than its own send answer.
        await status(runtime, cast, "p-3", "delivered")
        assert await pending(runtime) == 1
        assert (await row(runtime, message_id)).delivery_status == "queued"
        await sent(runtime, message_id, "p-3")
        message = await row(runtime, message_id)
        assert message.delivery_status == "delivered"
        assert await pending(runtime) == 0

    async def test_a_status_and_the_send_that_names_its_message_never_miss_each_other(
        self, runtime, cast
    ):
        """The status webhook keeps its notice (no message has the id yet) while, at the same
        moment, the delivery job gives the message that id and looks for kept notices: the
        second must wait for the first's commit and apply its notice (on PostgreSQL, read
        committed, both used to commit without seeing each other)."""
        message_id = await outbound_message(runtime, cast)
        async with runtime.db.session() as webhook:
            kept = await service.apply_provider_status(
                webhook, cast.website.id, "p-race", "delivered"
            )
            assert kept is None  # kept, not yet committed
            job = asyncio.create_task(sent(runtime, message_id, "p-race"))
            await asyncio.sleep(0.5)
            assert not job.done()  # it waits for the webhook's transaction
            await uow.commit(webhook)
        await asyncio.wait_for(job, 10)
        assert (await row(runtime, message_id)).delivery_status == "delivered"
        assert await pending(runtime) == 0

    async def test_a_send_locks_its_provider_id_once(self, runtime, cast):
        """mark_delivered locks the provider id before it writes, and the kept notices are
        then looked up under that same lock: not locked a second time (one statement less
        per delivery wave)."""
        message_id = await outbound_message(runtime, cast)
        await status(runtime, cast, "p-once", "delivered")  # kept: it waits for the send
        with statements_containing(runtime, "pg_advisory_xact_lock(k)") as locks:
            await sent(runtime, message_id, "p-once")
        assert len(locks) == (1 if runtime.db.is_postgres else 0)
        assert (await row(runtime, message_id)).delivery_status == "delivered"
        assert await pending(runtime) == 0

    async def test_statuses_are_per_inbox(self, runtime, cast):
        message_id = await outbound_message(runtime, cast)
        await sent(runtime, message_id, "p-4")
        async with runtime.db.session() as session:
            await service.apply_provider_status(session, cast.app.id, "p-4", "read")
            await uow.commit(session)
        assert (await row(runtime, message_id)).delivery_status == "sent"

    async def test_unknown_status_is_refused(self, runtime, cast):
        async with runtime.db.session() as session:
            with pytest.raises(Invalid):
                await service.apply_provider_status(session, cast.website.id, "p", "bounced")

    async def test_inbound_messages_take_no_status(self, runtime, cast):
        await runtime.ingestor.receive(
            Inbound(
                inbox_id=cast.website.id,
                external_id="in-9",
                address="c@example.com",
                text="hi",
                provider_message_id="in-9",
            )
        )
        await status(runtime, cast, "in-9", "read")
        async with runtime.db.session() as session:
            message = (await session.scalars(select(Message))).one()
        assert message.delivery_status == "received"

    async def test_stale_pending_notices_are_dropped(self, runtime, cast):
        await status(runtime, cast, "never-arrives", "delivered")
        async with runtime.db.session() as session:
            row_ = (await session.scalars(select(PendingProviderUpdate))).one()
            row_.created_at = datetime.now(UTC) - timedelta(days=8)
            await uow.commit(session)
        async with runtime.db.session() as session:
            assert await drop_stale_pending(session) == 1
            await uow.commit(session)
        assert await pending(runtime) == 0


class TestApplyProviderEdit:
    async def test_edit_before_its_original_waits_for_it(self, runtime, cast):
        at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
        async with runtime.db.session() as session:
            kept = await service.apply_provider_edit(
                session, cast.website.id, "m-1", text="fixed", at=at
            )
            await uow.commit(session)
        assert kept is None
        await runtime.ingestor.receive(
            Inbound(
                inbox_id=cast.website.id,
                external_id="m-1",
                address="c@example.com",
                text="fxed",
                provider_message_id="m-1",
                sent_at=at - timedelta(minutes=1),
            )
        )
        async with runtime.db.session() as session:
            message = (await session.scalars(select(Message))).one()
        assert message.text == "fixed" and message.meta["edited"] is True
        assert [v["text"] for v in message.meta["versions"]] == ["fxed", "fixed"]
        assert await pending(runtime) == 0

    async def test_an_older_edit_arriving_late_does_not_replace_a_newer_one(self, runtime, cast):
        base = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
        await runtime.ingestor.receive(
            Inbound(
                inbox_id=cast.website.id,
                external_id="m-2",
                address="c@example.com",
                text="v1",
                provider_message_id="m-2",
                sent_at=base,
            )
        )
        for text, minutes in (("v3", 3), ("v2", 2), ("v3", 3)):
            async with runtime.db.session() as session:
                await service.apply_provider_edit(
                    session, cast.website.id, "m-2", text=text, at=base + timedelta(minutes=minutes)
                )
                await uow.commit(session)
        async with runtime.db.session() as session:
            message = (await session.scalars(select(Message))).one()
        assert message.text == "v3"
        assert [v["text"] for v in message.meta["versions"]] == ["v1", "v2", "v3"]


class TestApplyWatermark:
    async def test_marks_earlier_outbound_messages_and_not_later_ones(self, runtime, cast):
        first = await outbound_message(runtime, cast)
        await sent(runtime, first, "wm-1")
        async with runtime.db.session() as session:
            message = await session.get(Message, first)
            assert message is not None and message.identity_id is not None
            identity_id = message.identity_id
            assert message.sent_at is not None
            before = message.sent_at - timedelta(seconds=1)
            moved = await service.apply_watermark(
                session, cast.website.id, [identity_id], "read", until=before
            )
            assert moved == 0
            moved = await service.apply_watermark(
                session, cast.website.id, [identity_id], "read", until=before + timedelta(hours=1)
            )
            await uow.commit(session)
        assert moved == 1
        assert (await row(runtime, first)).delivery_status == "read"


class TestBusinessMessagesFromTheProvidersTools:
    async def test_an_agent_inbound_is_stored_as_a_sent_outbound_message(self, runtime, cast):
        received = await runtime.ingestor.receive(
            Inbound(
                inbox_id=cast.website.id, external_id="echo-1", address="c@example.com",
                text="sent from the provider's inbox", author_kind="agent", tags=["public"],
            )
        )  # fmt: skip
        message = await row(runtime, received.message.id)
        assert message.direction == "outbound" and message.author_kind == "agent"
        assert message.author_agent_id is None and message.delivery_status == "sent"
        async with runtime.db.session() as session:
            from frontdesk.conversations import repository

            tags = await repository.tag_names(session, message.conversation_id)
        assert tags == ["public"]
