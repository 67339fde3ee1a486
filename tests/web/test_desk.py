"""The agent desktop over HTTP, on SQLite and PostgreSQL: login, views, security, RTL."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from frontdesk.channels.email import service as email_service
from frontdesk.kit import uow
from frontdesk.kit.events import Event
from tests.channels.email.conftest import create_email_inbox
from tests.channels.email.mails import mail
from tests.conftest import Person, inbound_payload, post_inbound

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def login(client: httpx.AsyncClient, person: Person) -> str:
    page = await client.get("/login")
    csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/login", data={"email": person.email, "password": person.password, "csrf": csrf}
    )
    assert response.status_code == 303, response.text
    return csrf


async def conversation_id(client, cast, external_id: str) -> int:  # type: ignore[no-untyped-def]
    return int(
        (
            await post_inbound(
                client, cast.website, inbound_payload(external_id, "layla@example.com")
            )
        ).json()["conversation_id"]
    )


class TestLogin:
    async def test_pages_need_a_login(self, client, cast):
        response = await client.get("/")
        assert response.status_code == 303 and response.headers["location"] == "/login"

    async def test_login_without_csrf_is_refused(self, client, cast):
        await client.get("/login")
        response = await client.post(
            "/login", data={"email": cast.alice.email, "password": cast.alice.password, "csrf": "x"}
        )
        assert response.status_code == 401

    async def test_wrong_password_is_refused(self, client, cast):
        page = await client.get("/login")
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        response = await client.post(
            "/login", data={"email": cast.alice.email, "password": "nope-nope", "csrf": csrf}
        )
        assert response.status_code == 401

    async def test_logout_ends_the_session(self, client, cast):
        csrf = await login(client, cast.alice)
        assert (await client.get("/")).status_code == 200
        await client.post("/logout", data={"csrf": csrf})
        assert (await client.get("/")).status_code == 303


class TestInboxViews:
    async def test_counts_per_view(self, client, cast):
        first = await conversation_id(client, cast, "v-1")
        await post_inbound(client, cast.website, inbound_payload("v-2", "omar@example.com"))
        await client.patch(
            f"/api/v1/conversations/{first}",
            json={"assignee_id": cast.alice.id},
            headers=cast.alice.headers,
        )
        await login(client, cast.alice)
        page = await client.get("/")
        counts = dict(re.findall(r'data-testid="fd-count-(\w+)">(\d+)<', page.text))
        assert counts == {"mine": "1", "unassigned": "1", "teams": "2", "all": "2"}

    async def test_search_finds_by_message_text(self, client, cast):
        await post_inbound(
            client, cast.website, inbound_payload("s-1", "a@example.com", text="refund please")
        )
        await post_inbound(
            client, cast.website, inbound_payload("s-2", "b@example.com", text="hello there")
        )
        await login(client, cast.alice)
        page = await client.get("/partials/inbox?q=REFUND")
        assert page.text.count('data-testid="fd-conversation-row"') == 1

    async def test_filters_by_channel_and_priority(self, client, cast):
        found = await conversation_id(client, cast, "f-1")
        await client.patch(
            f"/api/v1/conversations/{found}",
            json={"priority": "urgent"},
            headers=cast.alice.headers,
        )
        await login(client, cast.alice)
        assert (await client.get("/?priority=urgent")).text.count("fd-conversation-row") == 1
        assert (await client.get("/?channel=webchat")).text.count("fd-conversation-row") == 0


class TestOwnership:
    async def test_agent_outside_the_team_gets_nothing(self, client, cast):
        found = await conversation_id(client, cast, "o-1")
        await login(client, cast.bob)
        assert 'data-conversation-id="' not in (await client.get("/?q=layla")).text
        assert (await client.get(f"/conversations/{found}")).status_code == 404
        assert (await client.get(f"/conversations/{found}/timeline")).status_code == 404

    async def test_attachment_urls_check_the_conversation(self, client, cast):
        payload = inbound_payload(
            "a-1",
            "layla@example.com",
            attachments=[{"filename": "x.png", "content_type": "image/png", "data_base64": "iVBO"}],
        )
        await post_inbound(client, cast.website, payload)
        await login(client, cast.alice)
        assert (await client.get("/desk/attachments/1")).status_code == 200
        await client.post("/logout", data={"csrf": client.cookies.get("fd_csrf")})
        await login(client, cast.bob)
        assert (await client.get("/desk/attachments/1")).status_code == 404

    async def test_supervisor_page_is_for_supervisors(self, client, cast):
        await login(client, cast.alice)
        assert (await client.get("/supervisor")).status_code == 404

    async def test_supervisor_sees_agents_and_presence(self, client, cast):
        await login(client, cast.alice)
        await client.post("/logout", data={"csrf": client.cookies.get("fd_csrf")})
        await login(client, cast.sara)
        page = await client.get("/supervisor")
        assert page.text.count('data-testid="fd-agent-row"') == 4
        assert "presence-available" in page.text  # Sara herself, just logged in


class TestSafety:
    async def test_strict_csp_and_no_inline_script(self, client, cast):
        found = await conversation_id(client, cast, "c-1")
        await login(client, cast.alice)
        for url in ("/", f"/conversations/{found}", "/canned", "/login"):
            page = await client.get(url)
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert "unsafe-inline" not in page.headers["content-security-policy"]
            assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
            assert re.search(r"\son[a-z]+=", page.text) is None

    async def test_message_html_is_rendered_sanitised(self, client, cast):
        payload = inbound_payload(
            "x-1",
            "layla@example.com",
            text="<script>alert(1)</script>",
            html='<p>hi</p><img src=x onerror="alert(2)"><script>alert(3)</script>',
        )
        found = int((await post_inbound(client, cast.website, payload)).json()["conversation_id"])
        await login(client, cast.alice)
        page = (await client.get(f"/conversations/{found}")).text
        assert "<script>alert" not in page
        assert "onerror" not in page
        assert "<p>hi</p>" in page

    async def test_relative_and_remote_images_are_not_fetched_by_the_agent(self, client, cast):
        payload = inbound_payload(
            "i-1",
            "layla@example.com",
            html='<p>hi</p><img src="/api/v1/me/mentions/read"><img src="https://t.example/p.gif">',
        )
        found = int((await post_inbound(client, cast.website, payload)).json()["conversation_id"])
        await login(client, cast.alice)
        page = (await client.get(f"/conversations/{found}")).text
        assert "/api/v1/me/mentions/read" not in page and "t.example" not in page
        stored = await client.get(
            f"/api/v1/conversations/{found}/messages", headers=cast.alice.headers
        )
        assert "src=" not in (stored.json()["items"][0]["html"] or "")

    async def test_ids_past_the_range_in_forms_are_refused_not_a_500(self, client, cast):
        found = await conversation_id(client, cast, "big-1")
        csrf = await login(client, cast.alice)
        huge = str(2**64)
        reply = await client.post(
            f"/conversations/{found}/reply", data={"text": "hi", "identity_id": huge, "csrf": csrf}
        )
        assert reply.headers["location"] == f"/conversations/{found}?error=invalid"
        merge = await client.post("/customers/1/merge", data={"other": huge, "csrf": csrf})
        assert merge.status_code == 303 and "error=" in merge.headers["location"]
        assert (await client.get(f"/conversations/{huge}")).status_code == 422

    async def test_forms_need_the_csrf_token(self, client, cast):
        found = await conversation_id(client, cast, "k-1")
        await login(client, cast.alice)
        response = await client.post(
            f"/conversations/{found}/reply", data={"text": "hi", "csrf": "forged"}
        )
        assert response.status_code == 401


class TestConversationActions:
    async def test_reply_status_tags_and_assignment(self, client, cast):
        found = await conversation_id(client, cast, "r-1")
        csrf = await login(client, cast.alice)
        await client.post(f"/conversations/{found}/reply", data={"text": "On it", "csrf": csrf})
        await client.post(
            f"/conversations/{found}/update",
            data={
                "csrf": csrf,
                "status": "pending",
                "priority": "high",
                "assignee": str(cast.alice.id),
                "tags": "refund, vip",
            },
        )
        got = (
            await client.get(f"/api/v1/conversations/{found}", headers=cast.alice.headers)
        ).json()
        assert (got["status"], got["priority"], got["assignee_id"]) == (
            "pending",
            "high",
            cast.alice.id,
        )
        assert got["tags"] == ["refund", "vip"]
        page = (await client.get(f"/conversations/{found}")).text
        assert "On it" in page

    async def test_snooze(self, client, cast):
        found = await conversation_id(client, cast, "z-1")
        csrf = await login(client, cast.alice)
        await client.post(f"/conversations/{found}/update", data={"csrf": csrf, "snooze": "1h"})
        got = (
            await client.get(f"/api/v1/conversations/{found}", headers=cast.alice.headers)
        ).json()
        assert got["status"] == "snoozed" and got["snoozed_until"]

    async def test_note_mentions_are_events(self, client, cast, runtime):
        found = await conversation_id(client, cast, "n-1")
        csrf = await login(client, cast.alice)
        await client.post(
            f"/conversations/{found}/note", data={"text": "@sara please look", "csrf": csrf}
        )
        async with runtime.db.session() as session:
            event = await session.scalar(select(Event).where(Event.type == "note.mentioned"))
            assert event is not None and event.payload["agent_id"] == cast.sara.id
        assert "@sara please look" in (await client.get(f"/conversations/{found}")).text

    async def test_canned_response_variables_are_filled(self, client, cast):
        await post_inbound(
            client,
            cast.website,
            inbound_payload("cr-1", "layla@example.com", sender={"name": "Layla Haddad"}),
        )
        csrf = await login(client, cast.alice)
        await client.post(
            "/canned",
            data={
                "shortcut": "hi",
                "title": "Hi",
                "text": "Hello {{customer.first_name}}, {{agent.first_name}} here. {{x.y}}",
                "csrf": csrf,
            },
        )
        page = (await client.get("/conversations/1")).text
        assert "Hello Layla, Alice here. {{x.y}}" in page

    async def test_only_supervisors_share_canned_responses(self, client, cast):
        csrf = await login(client, cast.alice)
        response = await client.post(
            "/canned",
            data={"shortcut": "s", "title": "S", "text": "t", "shared": "on", "csrf": csrf},
        )
        assert "error=forbidden" in response.headers["location"]

    async def test_merge_customers_from_the_panel(self, client, cast):
        await post_inbound(client, cast.website, inbound_payload("m-1", "layla@example.com"))
        await post_inbound(client, cast.website, inbound_payload("m-2", "+15555550123"))
        csrf = await login(client, cast.alice)
        response = await client.post(
            "/customers/1/merge", data={"other": "+15555550123", "csrf": csrf}
        )
        assert response.headers["location"] == "/customers/1"
        got = (await client.get("/api/v1/customers/1", headers=cast.alice.headers)).json()
        assert {i["kind"] for i in got["identities"]} == {"email", "phone"}


class TestLanguages:
    async def test_persian_agent_gets_rtl_and_persian_digits(self, client, cast):
        await conversation_id(client, cast, "l-1")
        csrf = await login(client, cast.alice)
        await client.post("/me/language", data={"language": "fa", "csrf": csrf})
        page = (await client.get("/")).text
        assert '<html lang="fa" dir="rtl">' in page
        assert "گفتگوها" in page
        assert 'data-testid="fd-count-all">\u06f1<' in page

    async def test_arabic_agent_gets_rtl(self, client, cast):
        csrf = await login(client, cast.alice)
        await client.post("/me/language", data={"language": "ar", "csrf": csrf})
        page = (await client.get("/")).text
        assert '<html lang="ar" dir="rtl">' in page and "المحادثات" in page


class TestMailChecks:
    """Every inbound e-mail shows the trusted hop's SPF/DKIM/DMARC verdicts."""

    async def take_in(self, runtime, inbox_id: int, raw: bytes) -> int:
        async with runtime.db.session() as session:
            taken = await email_service.take_in(
                session, inbox_id, raw, blobs=runtime.blobs, settings=runtime.settings,
                source="smtp",
            )  # fmt: skip
            await uow.commit(session)
        assert taken.conversation_id is not None
        return taken.conversation_id

    async def test_verdicts_and_the_spoof_flag_are_shown(self, client, cast, runtime):
        inbox_id = await create_email_inbox(runtime)
        good = await self.take_in(runtime, inbox_id, mail(message_id="<v1@x>", headers={
            "Authentication-Results": "mx.frontdesk.test; spf=pass; dkim=pass; dmarc=pass"
        }))  # fmt: skip
        forged = await self.take_in(runtime, inbox_id, mail(message_id="<v2@x>", headers={
            "Authentication-Results": "mx.frontdesk.test; spf=fail; dkim=none; dmarc=fail"
        }))  # fmt: skip
        csrf = await login(client, cast.ada)
        # The timeline is the customer's: both mails are on both pages, each with its verdicts.
        page = (await client.get(f"/conversations/{good}")).text
        assert self.verdicts(page) == [
            [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")],
            [("spf", "fail"), ("dkim", "none"), ("dmarc", "fail")],
        ]
        first, second = page.split('data-testid="fd-message"')[1:]
        assert "fd-mail-spoof" not in first
        assert 'data-testid="fd-mail-spoof"' in second and "Possible spoof" in second
        await client.post("/me/language", data={"language": "ar", "csrf": csrf})
        page = (await client.get(f"/conversations/{forged}")).text
        assert "DMARC: فاشل" in page and "DKIM: ناجح" in page and "انتحال محتمل" in page

    @staticmethod
    def verdicts(page: str) -> list[list[tuple[str, str]]]:
        return [
            re.findall(r'data-mechanism="(\w+)" data-result="(\w*)"', message)
            for message in page.split('data-testid="fd-message"')[1:]
        ]

    async def test_mail_without_a_trusted_verdict_says_so(self, client, cast, runtime):
        inbox_id = await create_email_inbox(runtime)
        found = await self.take_in(runtime, inbox_id, mail(message_id="<v3@x>", headers={
            "Authentication-Results": "evil.example; spf=pass; dkim=pass; dmarc=pass"
        }))  # fmt: skip
        await login(client, cast.ada)
        page = (await client.get(f"/conversations/{found}")).text
        assert 'data-result="untrusted"' in page and "data-mechanism" not in page
