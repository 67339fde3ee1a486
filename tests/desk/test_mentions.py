"""@mention notifications: who is notified (only agents who may see the conversation, never
the author), unread counts, mark read (own mentions only), persistence, the desktop routes."""

from __future__ import annotations

from typing import Any

from tests.conftest import inbound_payload, post_inbound
from tests.web.test_desk import login


async def website_conversation(client, cast, external_id: str = "mn-1") -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(
        client, cast.website, inbound_payload(external_id, "layla@example.com")
    )
    return int(response.json()["conversation_id"])


async def note(client, person, conversation: int, text: str) -> Any:  # type: ignore[no-untyped-def]
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": text, "private": True},
        headers=person.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def mentions(client, person, **params: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/me/mentions", params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


class TestWhoIsNotified:
    async def test_mentioned_agent_who_sees_the_conversation_gets_an_unread_mention(
        self, client, cast
    ):
        conversation = await website_conversation(client, cast)
        written = await note(client, cast.sara, conversation, "@alice can you call her?")
        [got] = await mentions(client, cast.alice, unread="true")
        assert got["conversation_id"] == conversation and got["note_id"] == written["id"]
        assert got["by_agent_id"] == cast.sara.id and got["by_name"] == "Sara"
        assert got["text"] == "@alice can you call her?" and got["read_at"] is None
        assert got["url"] == f"/conversations/{conversation}"

    async def test_agent_outside_the_inbox_is_not_notified(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.alice, conversation, "@bob@frontdesk.test and @sara, see this")
        assert await mentions(client, cast.bob) == []
        assert len(await mentions(client, cast.sara)) == 1

    async def test_the_author_is_not_notified_of_their_own_mention(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.alice, conversation, "reminder for @alice")
        assert await mentions(client, cast.alice) == []

    async def test_mentions_leave_with_the_visibility_of_the_conversation(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.sara, conversation, "@alice look")
        # Alice leaves the Support team: the mention is no longer hers to see.
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        support = next(t for t in teams if t["name"] == "Support")
        changed = await client.patch(
            f"/api/v1/teams/{support['id']}", json={"agent_ids": []}, headers=cast.ada.headers
        )
        assert changed.status_code == 200, changed.text
        assert await mentions(client, cast.alice) == []


class TestMarkRead:
    async def test_mark_one_read_persists(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.sara, conversation, "@alice one")
        await note(client, cast.sara, conversation, "@alice two")
        first, second = await mentions(client, cast.alice)
        done = await client.post(
            f"/api/v1/me/mentions/{first['id']}/read", headers=cast.alice.headers
        )
        assert done.status_code == 204
        assert [m["id"] for m in await mentions(client, cast.alice, unread="true")] == [
            second["id"]
        ]
        everything = await mentions(client, cast.alice)
        assert len(everything) == 2 and everything[0]["read_at"] is not None

    async def test_nobody_marks_another_agents_mention(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.sara, conversation, "@alice yours")
        [mine] = await mentions(client, cast.alice)
        for other in (cast.bob, cast.ada):
            stolen = await client.post(
                f"/api/v1/me/mentions/{mine['id']}/read", headers=other.headers
            )
            assert stolen.status_code == 404
        assert len(await mentions(client, cast.alice, unread="true")) == 1

    async def test_mark_all_read(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.sara, conversation, "@alice one")
        await note(client, cast.sara, conversation, "@alice two")
        done = await client.post("/api/v1/me/mentions/read", headers=cast.alice.headers)
        assert done.json() == {"marked": 2}
        assert await mentions(client, cast.alice, unread="true") == []


class TestDesktop:
    async def test_badge_list_and_opening_the_conversation_reads_them(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.sara, conversation, "@alice <b>look</b>")
        csrf = await login(client, cast.alice)
        badge = await client.get("/partials/mentions-badge")
        assert 'data-count="1"' in badge.text
        listing = await client.get("/mentions")
        assert listing.status_code == 200
        assert "&lt;b&gt;look&lt;/b&gt;" in listing.text and "<b>look" not in listing.text
        assert f'href="/conversations/{conversation}"' in listing.text
        page = await client.get(f"/conversations/{conversation}")
        # Viewing changes nothing (a GET); the open page posts that the mentions are read.
        assert 'data-count="1"' in (await client.get("/partials/mentions-badge")).text
        assert f'hx-post="/conversations/{conversation}/mentions/read"' in page.text
        read = await client.post(
            f"/conversations/{conversation}/mentions/read", data={"csrf": csrf}
        )
        assert read.status_code == 204 and read.headers["hx-trigger"] == "fd:mentions"
        # The mentions count is gone (the tab title's hidden total has its own test).
        assert (
            'data-testid="fd-mentions-count"'
            not in (await client.get("/partials/mentions-badge")).text
        )

    async def test_reading_the_mentions_of_a_conversation_needs_csrf(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.sara, conversation, "@alice look")
        await login(client, cast.alice)
        refused = await client.post(
            f"/conversations/{conversation}/mentions/read", data={"csrf": "forged"}
        )
        assert refused.status_code in (401, 403)
        assert len(await mentions(client, cast.alice, unread="true")) == 1

    async def test_mark_read_form_needs_csrf_and_own_mention(self, client, cast):
        conversation = await website_conversation(client, cast)
        await note(client, cast.sara, conversation, "@alice look")
        [mine] = await mentions(client, cast.alice)
        csrf = await login(client, cast.bob)
        await client.post(f"/mentions/{mine['id']}/read", data={"csrf": csrf})
        assert len(await mentions(client, cast.alice, unread="true")) == 1
        csrf = await login(client, cast.alice)
        refused = await client.post(f"/mentions/{mine['id']}/read", data={"csrf": "forged"})
        assert refused.status_code in (401, 403)
        await client.post(f"/mentions/{mine['id']}/read", data={"csrf": csrf})
        assert await mentions(client, cast.alice, unread="true") == []
