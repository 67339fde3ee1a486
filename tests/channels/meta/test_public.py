"""Public comments (Page feed, Instagram comments) as public conversations, and the agent's
public actions: reply publicly, hide, reply privately (cross-linked both ways)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.conversations.models import Message
from tests.channels.meta.conftest import PAGE_ID, Page, payload
from tests.conftest import run_jobs

COMMENT = "4000000000000000_5000000000000000"


async def all_messages(runtime) -> list[Message]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def act(client, cast, conversation_id: int, **body: Any):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/public-actions",
        json=body,
        headers=cast.ada.headers,
    )


async def public_conversation(client, page: Page, runtime, cast) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert (await page.deliver(client, payload("feed_comment"))).status_code == 200
    [comment] = await all_messages(runtime)
    response = await client.get(
        f"/api/v1/conversations/{comment.conversation_id}", headers=cast.ada.headers
    )
    return dict(response.json())


class TestPublicComments:
    async def test_a_page_comment_opens_a_public_conversation(self, client, page, runtime, cast):
        conversation = await public_conversation(client, page, runtime, cast)
        assert "public" in conversation["tags"]
        [comment] = await all_messages(runtime)
        assert comment.text == "My order never arrived!"
        assert comment.meta["public"]["post_link"].startswith("https://www.facebook.com/")
        assert comment.meta["public"]["comment_id"] == COMMENT

    async def test_the_same_comment_twice_is_one_message(self, client, page, runtime):
        for _ in range(2):
            assert (await page.deliver(client, payload("feed_comment"))).status_code == 200
        assert len(await all_messages(runtime)) == 1

    async def test_the_pages_own_comment_is_ignored(self, client, page, runtime):
        data = payload("feed_comment")
        data["entry"][0]["changes"][0]["value"]["from"]["id"] = PAGE_ID
        assert (await page.deliver(client, data)).status_code == 200
        assert await all_messages(runtime) == []

    async def test_an_instagram_comment_opens_a_public_conversation(self, client, ig, runtime):
        assert (await ig.deliver(client, payload("instagram_comment"))).status_code == 200
        [comment] = await all_messages(runtime)
        assert comment.meta["public"]["platform"] == "instagram"
        assert comment.channel == "instagram"


class TestPublicActions:
    async def test_reply_publicly_posts_a_comment_reply(self, client, page, runtime, cast, graph):
        conversation = await public_conversation(client, page, runtime, cast)
        response = await act(
            client, cast, conversation["id"], action="reply_publicly", text="We are on it"
        )
        assert response.status_code == 201, response.text
        await run_jobs(runtime)
        assert graph.sent(f"{COMMENT}/comments") == [{"message": "We are on it"}]
        reply = (await all_messages(runtime))[1]
        assert reply.delivery_status == "sent" and reply.provider_message_id.startswith("reply_")

    async def test_a_plain_reply_on_a_public_conversation_is_public(
        self, client, page, runtime, cast, graph
    ):
        conversation = await public_conversation(client, page, runtime, cast)
        response = await client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": "Answered in public"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 201
        await run_jobs(runtime)
        assert graph.sent(f"{COMMENT}/comments") == [{"message": "Answered in public"}]
        assert graph.sent(f"{PAGE_ID}/messages") == []

    async def test_hide_hides_the_comment(self, client, page, runtime, cast, graph):
        conversation = await public_conversation(client, page, runtime, cast)
        response = await act(client, cast, conversation["id"], action="hide")
        assert response.status_code == 201, response.text
        assert response.json()["hidden"] is True
        assert graph.sent(COMMENT) == [{"?is_hidden": "true"}]
        [comment] = await all_messages(runtime)
        assert comment.meta["public"]["hidden"] is True

    async def test_reply_privately_links_both_ways(self, client, page, runtime, cast, graph):
        conversation = await public_conversation(client, page, runtime, cast)
        response = await act(
            client, cast, conversation["id"], action="reply_privately", text="Your order number?"
        )
        assert response.status_code == 201, response.text
        private_id = response.json()["conversation_id"]
        assert private_id != conversation["id"]
        await run_jobs(runtime)
        [sent] = graph.sent(f"{PAGE_ID}/messages")
        assert sent["recipient"] == {"comment_id": COMMENT}
        comment, message = await all_messages(runtime)
        assert comment.meta["public"]["private_thread"] == {
            "conversation_id": private_id,
            "message_id": message.id,
        }
        assert message.meta["private_reply"]["conversation_id"] == conversation["id"]
        assert message.conversation_id == private_id and message.delivery_status == "sent"
        again = await act(client, cast, conversation["id"], action="reply_privately", text="?")
        assert again.status_code == 409

    async def test_public_actions_refuse_a_private_conversation(self, client, page, runtime, cast):
        await page.deliver(client, payload("message_text"))
        [message] = await all_messages(runtime)
        response = await act(client, cast, message.conversation_id, action="hide")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "not_public"


class TestDesktop:
    async def test_buttons_on_a_public_conversation_hide_and_reply_privately(
        self, client, page, runtime, cast, graph
    ):
        from tests.web.test_views import csrf_of, log_in

        conversation = await public_conversation(client, page, runtime, cast)
        await log_in(client, cast.alice)
        html = (await client.get(f"/conversations/{conversation['id']}")).text
        assert 'data-testid="fd-public-actions"' in html
        assert 'data-testid="fd-public-comment"' in html
        form = {"csrf": csrf_of(html)}
        hidden = await client.post(
            f"/conversations/{conversation['id']}/public-action", data={**form, "action": "hide"}
        )
        assert hidden.status_code == 303
        assert graph.sent(COMMENT) == [{"?is_hidden": "true"}]
        private = await client.post(
            f"/conversations/{conversation['id']}/public-action",
            data={**form, "action": "reply_privately", "text": "ما رقم طلبك؟"},
        )
        assert private.status_code == 303
        private_page = (await client.get(private.headers["location"])).text
        assert 'data-testid="fd-public-origin"' in private_page
        html = (await client.get(f"/conversations/{conversation['id']}")).text
        assert 'data-testid="fd-private-thread"' in html

    async def test_a_private_conversation_has_no_public_buttons(self, client, page, runtime, cast):
        from tests.web.test_views import log_in

        await page.deliver(client, payload("message_text"))
        [message] = await all_messages(runtime)
        await log_in(client, cast.alice)
        html = (await client.get(f"/conversations/{message.conversation_id}")).text
        assert 'data-testid="fd-public-actions"' not in html
