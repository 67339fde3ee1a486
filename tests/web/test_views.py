from __future__ import annotations

import re

from tests.conftest import inbound_payload, post_inbound


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def log_in(client, person):  # type: ignore[no-untyped-def]
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": person.email, "password": person.password, "csrf": csrf_of(page.text)},
    )
    assert response.status_code == 303, response.text
    return response


class TestLogin:
    async def test_pages_need_a_login(self, client, cast):
        response = await client.get("/")
        assert response.status_code == 303 and response.headers["location"] == "/login"

    async def test_login_then_list_and_open_a_conversation(self, client, cast):
        body = (
            await post_inbound(
                client, cast.website, inbound_payload("m1", "layla@example.com", "where is it?")
            )
        ).json()
        await log_in(client, cast.alice)
        inbox = await client.get("/")
        assert 'data-testid="fd-inbox-list"' in inbox.text
        assert inbox.text.count('data-testid="fd-conversation-row"') == 1
        assert "content-security-policy" in inbox.headers
        page = await client.get(f"/conversations/{body['conversation_id']}")
        assert "where is it?" in page.text and "unanswered" in page.text
        customer = await client.get(f"/customers/{body['customer_id']}")
        assert "layla@example.com" in customer.text

    async def test_wrong_password(self, client, cast):
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={"email": cast.alice.email, "password": "nope-nope", "csrf": csrf_of(page.text)},
        )
        assert response.status_code == 401
        assert "Wrong e-mail or password" in response.text

    async def test_login_without_csrf_token_is_refused(self, client, cast):
        await client.get("/login")
        response = await client.post(
            "/login", data={"email": cast.alice.email, "password": cast.alice.password, "csrf": "x"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "csrf"

    async def test_agent_cannot_open_other_teams_pages(self, client, cast):
        theirs = (
            await post_inbound(client, cast.app, inbound_payload("a1", "omar@example.org"))
        ).json()
        await log_in(client, cast.alice)
        assert (await client.get(f"/conversations/{theirs['conversation_id']}")).status_code == 404
        assert (await client.get(f"/customers/{theirs['customer_id']}")).status_code == 404
        assert "omar" not in (await client.get("/?status=")).text

    async def test_reply_from_the_page_is_queued(self, client, cast):
        body = (
            await post_inbound(client, cast.website, inbound_payload("m1", "layla@example.com"))
        ).json()
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{body['conversation_id']}")
        response = await client.post(
            f"/conversations/{body['conversation_id']}/reply",
            data={"text": "on its way", "csrf": csrf_of(page.text)},
        )
        assert response.status_code == 303
        page = await client.get(f"/conversations/{body['conversation_id']}")
        assert "on its way" in page.text and "queued" in page.text

    async def test_html_in_messages_is_escaped(self, client, cast):
        body = (
            await post_inbound(
                client,
                cast.website,
                inbound_payload("m1", "layla@example.com", "<script>alert(1)</script>"),
            )
        ).json()
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{body['conversation_id']}")
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;" in page.text

    async def test_persian_agent_gets_a_right_to_left_page(self, client, cast, runtime):
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        await log_in(client, cast.alice)
        page = await client.get("/")
        assert '<html lang="fa" dir="rtl">' in page.text

    async def test_logout_revokes_the_session(self, client, cast):
        await log_in(client, cast.alice)
        page = await client.get("/")
        response = await client.post("/logout", data={"csrf": csrf_of(page.text)})
        assert response.status_code == 303
        assert (await client.get("/")).status_code == 303
