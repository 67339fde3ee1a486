"""The desk's inbox search: message text by words (full text over search keys), names,
addresses, subjects and tags by the characters typed, as written."""

from __future__ import annotations

from sqlalchemy import event, insert, update

from frontdesk.auth import service as auth_service
from frontdesk.auth.models import Agent
from frontdesk.conversations.models import Conversation
from frontdesk.db import utcnow
from frontdesk.desk import repository
from frontdesk.desk.repository import PREVIEW, InboxFilter
from frontdesk.kit import uow
from frontdesk.kit.security import token_digest
from frontdesk.routing import service as routing
from tests.conftest import inbound_payload, post_inbound
from tests.web.test_views import log_in


async def search(runtime, q: str, visible: set[int] | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        matched = await repository.search_conversations(session, q, visible=visible)
        rows = await repository.list_view(
            session, agent_id=0, visible=visible, f=InboxFilter(q=q), limit=50, matched=matched
        )
        return [row.conversation.id for row in rows]


async def conversation(
    client, cast, external_id: str, address: str, text: str, inbox=None, **extra
) -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(
        client, inbox or cast.website, inbound_payload(external_id, address, text, **extra)
    )
    assert response.status_code == 202, response.text
    return int(response.json()["conversation_id"])


class TestSubstringFields:
    async def test_percent_and_underscore_are_letters_not_wildcards(self, client, cast, runtime):
        snake = await conversation(client, cast, "s1", "a_b@example.com", "hello")
        other = await conversation(client, cast, "s2", "axb@example.com", "hello")
        assert await search(runtime, "a_b@") == [snake]
        assert await search(runtime, "_") == [snake]
        assert other not in await search(runtime, "%")

    async def test_a_backslash_is_a_letter_too(self, client, cast, runtime):
        found = await conversation(
            client, cast, "s4", "d@example.com", "hi", sender={"name": "C:\\temp"}
        )
        assert await search(runtime, "c:\\t") == [found]
        assert await search(runtime, "c:%t") == []


class TestMessageWords:
    async def test_words_match_whatever_punctuation_surrounds_them(self, client, cast, runtime):
        found = await conversation(client, cast, "w1", "a@example.com", "is 50% off real?")
        await conversation(client, cast, "w2", "b@example.com", "plain question")
        assert await search(runtime, "50%") == [found]
        assert await search(runtime, "REAL") == [found]
        assert await search(runtime, "off-real") == [found]  # every word, in any order
        assert await search(runtime, "off plain") == []


class TestCounts:
    async def test_each_view_is_counted_up_to_the_cap(self, client, cast, runtime):
        """Past COUNT_CAP a view's count stops (the list shows "1,000+"), so counting reads
        a bounded number of rows whatever the desk's size; under it, counts are exact."""
        first = await conversation(client, cast, "c1", "layla@example.com", "hello")
        async with runtime.db.session() as session:
            customer_id = (await session.get(Conversation, first)).customer_id  # type: ignore[union-attr]
            await session.execute(
                insert(Conversation),
                [
                    {"inbox_id": cast.website.id, "customer_id": customer_id, "status": "open",
                     "priority": "normal", "assignee_id": cast.alice.id if n < 3 else None}
                    for n in range(repository.COUNT_CAP + 5)
                ],
            )  # fmt: skip
            await uow.commit(session)
        async with runtime.db.session() as session:
            counts = await repository.count_views(
                session, agent_id=cast.alice.id, visible=None, f=InboxFilter()
            )
        assert counts["mine"] == 3
        assert counts["all"] == repository.COUNT_CAP + 1  # capped: "more than the cap"
        assert counts["unassigned"] == repository.COUNT_CAP + 1
        await log_in(client, cast.alice)
        page = (await client.get("/")).text
        assert 'data-testid="fd-count-all">1,000+<' in page
        assert 'data-testid="fd-count-mine">3<' in page


class TestListView:
    async def test_each_row_brings_its_customers_name_and_its_last_messages_start(
        self, client, cast, runtime
    ):
        long = "word " * 60  # 300 characters
        found = await conversation(
            client, cast, "l1", "layla@example.com", long, sender={"name": "Layla"}
        )
        await conversation(client, cast, "l2", "nameless@example.com", "short")
        async with runtime.db.session() as session:
            rows = await repository.list_view(
                session, agent_id=0, visible=None, f=InboxFilter(), limit=10
            )
        by_id = {row.conversation.id: row for row in rows}
        layla = by_id[found]
        assert layla.customer_name == "Layla"
        assert layla.preview == long[:PREVIEW]
        assert (layla.last_direction, layla.last_answered) == ("inbound", False)
        [other] = [row for row in rows if row.conversation.id != found]
        assert other.preview == "short"

    async def test_the_preview_follows_the_last_message(self, client, cast, runtime):
        found = await conversation(client, cast, "l1", "layla@example.com", "question")
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{found}")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        sent = await client.post(
            f"/conversations/{found}/reply", data={"csrf": csrf, "text": "the answer"}
        )
        assert sent.status_code == 303
        async with runtime.db.session() as session:
            [row] = await repository.list_view(
                session, agent_id=0, visible=None, f=InboxFilter(), limit=10
            )
        assert (row.preview, row.last_direction) == ("the answer", "outbound")


class TestStatementsByShape:
    async def test_a_filter_shape_is_built_once_and_takes_each_requests_values(
        self, client, cast, runtime
    ):
        """The list's and the counts' statements are built once per filter shape and take
        the filter's values as parameters: a second filter of the same shape reuses the
        statement and still answers with its own values (no value baked into the text)."""
        one = await conversation(client, cast, "s1", "one@example.com", "hello")
        two = await conversation(client, cast, "s2", "two@example.com", "hello")
        async with runtime.db.session() as session:
            await session.execute(
                update(Conversation).where(Conversation.id == two).values(status="pending")
            )
            await uow.commit(session)
        visible = {cast.website.id}
        answers = {}
        for status in ("open", "pending", "open"):
            before = repository._list_query.cache_info().misses
            counted = repository._count_query.cache_info().misses
            async with runtime.db.session() as session:
                rows = await repository.list_view(
                    session, agent_id=0, visible=visible, f=InboxFilter(status=status), limit=10
                )
                counts = await repository.count_views(
                    session, agent_id=cast.alice.id, visible=visible, f=InboxFilter(status=status)
                )
            answers[status] = [row.conversation.id for row in rows]
            assert counts["all"] == 1
            if status == "pending":  # the shape of "open": built already
                assert repository._list_query.cache_info().misses == before
                assert repository._count_query.cache_info().misses == counted
        assert answers == {"open": [one], "pending": [two]}
        async with runtime.db.session() as session:  # an inbox the agent may not see
            rows = await repository.list_view(
                session, agent_id=0, visible={-5}, f=InboxFilter(status="open"), limit=10
            )
        assert rows == []


class TestDeskAgent:
    async def test_the_agent_presence_and_preferences_in_one_statement(self, cast, runtime):
        async with runtime.db.session() as session:
            alice = await session.get(Agent, cast.alice.id)
            assert alice is not None
            token = await auth_service.issue_token(session, alice, kind="session")
            await routing.set_status(session, alice, "busy")
            await uow.commit(session)
        async with runtime.db.session() as session:
            seen: list[str] = []

            def count(*args: object) -> None:
                seen.append(str(args[2]))

            engine = runtime.db.engine.sync_engine
            event.listen(engine, "before_cursor_execute", count)
            try:
                found = await repository.desk_agent(
                    session, token_digest(token), utcnow(), kind="session"
                )
                assert found is not None
                agent, presence = found
                # Remembered with the agent: no statement of their own.
                assert await repository.get_preferences(session, agent.id) is None
                assert (await routing.of(session, agent)).status == "busy"
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert agent.id == cast.alice.id and presence is not None
            assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1

    async def test_a_bearer_token_is_no_desktop_session(self, cast, runtime):
        async with runtime.db.session() as session:
            alice = await session.get(Agent, cast.alice.id)
            assert alice is not None
            token = await auth_service.issue_token(session, alice, kind="api")
            await uow.commit(session)
            found = await repository.desk_agent(
                session, token_digest(token), utcnow(), kind="session"
            )
        assert found is None
