"""Search that scales: message text under a full-text index (FTS5 / tsvector) over search keys,
names, addresses, subjects and tags, visibility on every result, one search per page."""

from __future__ import annotations

from sqlalchemy import event, select, text

from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations.models import Conversation, Message
from frontdesk.desk import repository
from frontdesk.kit import uow
from tests.conftest import inbound_payload, post_inbound
from tests.desk.test_repository import conversation, search
from tests.web.test_desk import login


class TestFullText:
    async def test_arabic_and_persian_spellings_meet(self, client, cast, runtime):
        # Arabic kaf, ta marbuta and a tatweel in the message; Persian keheh and heh typed.
        found = await conversation(client, cast, "ar1", "a@example.com", "أريد تغيير كـلمة المرور")
        greeting = await conversation(client, cast, "ar2", "b@example.com", "سلام")
        assert await search(runtime, "کلمه") == [found]
        assert await search(runtime, "اريد") == [found]  # the hamza carrier folds to alef
        assert await search(runtime, "سلامت") == []
        assert await search(runtime, "سلام") == [greeting]

    async def test_persian_digits_find_an_order_number(self, client, cast, runtime):
        found = await conversation(client, cast, "o1", "a@example.com", "Order ORD-10234 is late")
        await conversation(client, cast, "o2", "b@example.com", "Order ORD-10235 is late")
        assert await search(runtime, "ord-10234") == [found]
        assert await search(runtime, "۱۰۲۳۴") == [found]

    async def test_the_last_word_may_be_a_beginning(self, client, cast, runtime):
        found = await conversation(client, cast, "p1", "a@example.com", "I need a refund")
        assert await search(runtime, "refu") == [found]
        assert await search(runtime, "re") == []  # too short to be a prefix

    async def test_an_edited_message_is_found_by_its_new_words(self, client, cast, runtime):
        found = await conversation(client, cast, "e1", "a@example.com", "first words")
        async with runtime.db.session() as session:
            message = await session.scalar(select(Message).where(Message.conversation_id == found))
            assert message is not None
            message.text = "second thoughts"
            await uow.commit(session)
        assert await search(runtime, "first") == []
        assert await search(runtime, "thoughts") == [found]

    async def test_the_key_is_stored_folded(self, client, cast, runtime):
        found = await conversation(client, cast, "k1", "a@example.com", "Café ۱۲")
        async with runtime.db.session() as session:
            key = await session.scalar(
                select(Message.search_key).where(Message.conversation_id == found)
            )
        assert key == "cafe 12"


class TestOtherFields:
    async def test_subject_tag_name_and_address(self, client, cast, runtime):
        named = await conversation(
            client, cast, "n1", "layla@example.com", "hi", sender={"name": "Layla Haddad"}
        )
        subject = await conversation(client, cast, "n2", "b@example.com", "hi", subject="Invoice 7")
        tagged = await conversation(client, cast, "n3", "c@example.com", "hi")
        await client.patch(
            f"/api/v1/conversations/{tagged}", json={"tags": ["vip-gold"]}, headers=cast.ada.headers
        )
        assert await search(runtime, "haddad") == [named]
        assert await search(runtime, "layla@exa") == [named]
        assert await search(runtime, "invoice") == [subject]
        assert await search(runtime, "vip-go") == [tagged]


class TestVisibility:
    async def test_a_search_never_crosses_teams(self, client, cast, runtime):
        website = await conversation(client, cast, "v1", "a@example.com", "secret refund")
        app = await conversation(client, cast, "v2", "b@example.com", "secret refund", cast.app)
        assert set(await search(runtime, "secret")) == {website, app}
        assert await search(runtime, "secret", visible={cast.website.id}) == [website]
        assert await search(runtime, "secret", visible=set()) == []
        await login(client, cast.bob)  # Billing serves the app inbox only
        page = (await client.get("/?q=secret&status=")).text
        assert f'data-conversation-id="{app}"' in page
        assert f'data-conversation-id="{website}"' not in page
        counts = dict(
            (view, int(n)) for view, n in __import__("re").findall(r'fd-count-(\w+)">(\d+)<', page)
        )
        assert counts["all"] == 1


class TestOrder:
    async def test_the_list_is_newest_activity_first(self, client, cast, runtime):
        older = await conversation(client, cast, "t1", "a@example.com", "one")
        newer = await conversation(client, cast, "t2", "b@example.com", "two")
        await post_inbound(client, cast.website, inbound_payload("t3", "a@example.com", "again"))
        async with runtime.db.session() as session:
            rows = await session.execute(
                select(Conversation.id, Conversation.sort_at, Conversation.last_message_at)
            )
            for _, sort_at, last in rows:
                assert sort_at == last
            listed = await repository.list_view(
                session, agent_id=0, visible=None, f=repository.InboxFilter(), limit=10
            )
        assert [row.conversation.id for row in listed] == [older, newer]


class TestStatementsPerPage:
    async def test_the_inbox_page_does_not_grow_with_its_rows(self, client, cast, runtime):
        async def statements() -> int:
            seen: list[str] = []

            def count(*args: object) -> None:
                seen.append(str(args[2]))

            engine = runtime.db.engine.sync_engine
            event.listen(engine, "before_cursor_execute", count)
            try:
                assert (await client.get("/?q=tagged")).status_code == 200
            finally:
                event.remove(engine, "before_cursor_execute", count)
            return len(seen)

        async def tagged_conversation(n: int) -> None:
            found = await conversation(client, cast, f"r{n}", f"c{n}@example.com", "tagged")
            async with runtime.db.session() as session:
                await conversations_repository.add_tag(session, found, f"tag-{n}")
                await uow.commit(session)

        await login(client, cast.ada)
        await tagged_conversation(0)
        few = await statements()
        for n in range(1, 8):
            await tagged_conversation(n)
        assert await statements() == few
        async with runtime.db.session() as session:
            # The search index exists on this database (FTS5 table or GIN index).
            if runtime.db.engine.dialect.name == "postgresql":
                found = await session.scalar(
                    text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_messages_search'")
                )
            else:
                found = await session.scalar(text("SELECT count(*) FROM messages_fts"))
            assert found
