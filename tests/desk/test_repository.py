"""The desk's inbox search: what the agent types is searched for as written."""

from __future__ import annotations

from frontdesk.desk import repository
from frontdesk.desk.repository import InboxFilter
from tests.conftest import inbound_payload, post_inbound


async def search(runtime, q: str) -> list[int]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        rows = await repository.list_view(
            session, agent_id=0, visible=None, f=InboxFilter(q=q), limit=50
        )
        return [row.id for row in rows]


async def conversation(client, cast, external_id: str, address: str, text: str) -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, cast.website, inbound_payload(external_id, address, text))
    assert response.status_code == 202, response.text
    return int(response.json()["conversation_id"])


class TestSearch:
    async def test_percent_and_underscore_are_letters_not_wildcards(self, client, cast, runtime):
        discount = await conversation(client, cast, "s1", "a@example.com", "is 50% off real?")
        other = await conversation(client, cast, "s2", "b@example.com", "plain question")
        snake = await conversation(client, cast, "s3", "c@example.com", "error in order_id")
        assert await search(runtime, "%") == [discount]
        assert await search(runtime, "50%") == [discount]
        assert await search(runtime, "_") == [snake]
        assert await search(runtime, "plain_question") == []  # a wildcard "_" matches " "
        assert other not in await search(runtime, "%%")

    async def test_a_backslash_is_a_letter_too(self, client, cast, runtime):
        found = await conversation(client, cast, "s4", "d@example.com", "path C:\\temp")
        assert await search(runtime, "c:\\t") == [found]
        assert await search(runtime, "question") == []
