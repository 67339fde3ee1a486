from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from frontdesk.app import create_app
from frontdesk.config import Settings
from frontdesk.kit.security import RECOMMENDED, check_password
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

    async def test_the_inbox_name_is_not_repeated_when_it_is_the_channel_s_name(self, client, cast):
        body = (
            await post_inbound(client, cast.website, inbound_payload("n1", "l@x.io", "hi"))
        ).json()
        await log_in(client, cast.alice)
        chip = (
            r'data-testid="fd-(?:row|conv)-channel"><span aria-hidden="true">[^<]*</span> '
            r'([^<]*)(<bdi dir="auto">[^<]*</bdi>)?'
        )
        path = f"/conversations/{body['conversation_id']}"
        named = re.findall(chip, (await client.get(path)).text)
        assert named == [("API · ", '<bdi dir="auto">Website</bdi>')] * 2  # the row and the header
        response = await client.patch(
            f"/api/v1/inboxes/{cast.website.id}", json={"name": "api"}, headers=cast.ada.headers
        )
        assert response.status_code == 200, response.text
        assert re.findall(chip, (await client.get(path)).text) == [("API", "")] * 2

    async def test_the_subject_is_shown_in_the_list_and_the_header(self, client, cast):
        payload = inbound_payload("s1", "layla@example.com", "hi", subject="Order 1234 <late>")
        body = (await post_inbound(client, cast.website, payload)).json()
        await log_in(client, cast.alice)
        row = re.search(r'data-testid="fd-row-subject"[^>]*>([^<]*)<', (await client.get("/")).text)
        assert row and row.group(1) == "Order 1234 &lt;late&gt;"
        page = (await client.get(f"/conversations/{body['conversation_id']}")).text
        header = re.search(r'data-testid="fd-conv-subject".*?<bdi dir="auto">([^<]*)</bdi>', page)
        assert header and header.group(1) == "Order 1234 &lt;late&gt;"

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


async def login_form(client, person, password: str | None = None, **params):  # type: ignore[no-untyped-def]
    page = await client.get("/login")
    return await client.post(
        "/login",
        params=params,
        data={
            "email": person.email,
            "password": person.password if password is None else password,
            "csrf": csrf_of(page.text),
        },
    )


class TestLoginAbuse:
    async def test_repeated_failures_get_429_with_retry_after_and_a_translated_message(
        self, client, cast, runtime
    ):
        runtime.settings.login_delay_seconds = 0.01
        for _ in range(5):
            assert (await login_form(client, cast.alice, "wrong-guess")).status_code == 401
        locked = await login_form(client, cast.alice, lang="fa")
        assert locked.status_code == 429
        assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
        assert "تلاش‌های ورود بیش از حد است" in locked.text
        english = await login_form(client, cast.alice)
        assert "Too many login attempts. Try again in" in english.text

    async def test_later_failures_are_answered_more_slowly(self, client, cast, runtime):
        runtime.settings.login_delay_seconds = 0.3
        for _ in range(3):
            await login_form(client, cast.bob, "wrong-guess")
        started = time.perf_counter()
        assert (await login_form(client, cast.bob, "wrong-guess")).status_code == 401
        assert time.perf_counter() - started >= 0.6  # the fourth failure waits 2 x base


class TestPasswordThreads:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        """The production cost of argon2 (the suite's settings make hashing cheap), so the
        cast's passwords take a real hash to check."""
        return settings.model_copy(
            update={
                "password_time_cost": RECOMMENDED.time_cost,
                "password_memory_kib": RECOMMENDED.memory_kib,
            }
        )

    async def test_the_event_loop_keeps_serving_while_16_logins_hash(
        self, cast, live_server, settings
    ):
        """Argon2 runs in the password threads: the server's event loop (this test's loop too)
        is free while 16 logins hash, and a request meanwhile is answered at once."""
        assert settings.password_cost == RECOMMENDED
        base = f"http://{live_server}"
        clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(16)]
        done = asyncio.Event()

        async def stalls() -> list[float]:
            """How late each 5 ms tick of the loop came."""
            lags = []
            while not done.is_set():
                started = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - started - 0.005)
            return sorted(lags)

        try:
            forms = [csrf_of((await c.get("/login")).text) for c in clients]
            people = [cast.ada, cast.sara, cast.alice, cast.bob] * 4
            asked = time.perf_counter()
            await check_password("guess", None, settings.password_cost)
            one_hash = time.perf_counter() - asked
            watching = asyncio.create_task(stalls())
            logins = asyncio.gather(
                *(
                    c.post("/login", data={"email": p.email, "password": p.password, "csrf": f})
                    for c, p, f in zip(clients, people, forms, strict=True)
                )
            )
            await asyncio.sleep(0.2)  # the logins are hashing now
            async with httpx.AsyncClient(base_url=base) as probe:
                asked = time.perf_counter()
                assert (await probe.get("/healthz")).status_code == 200
                answered = time.perf_counter() - asked
            responses = await logins
            done.set()
            stalled = await watching
            assert [r.status_code for r in responses] == [303] * 16
            # On the loop, each of the 16 hashes stalled it for a whole hash (a request waited
            # up to 13 s behind them); off it, the loop only waits its turn for the CPU.
            long_stalls = [lag for lag in stalled if lag > one_hash / 2]
            assert len(long_stalls) < 4, f"{long_stalls} (one hash takes {one_hash:.2f}s)"
            assert answered < max(0.5, one_hash)
        finally:
            for c in clients:
                await c.aclose()


class TestTransportSecurity:
    async def test_a_form_posted_from_another_site_is_refused_even_with_the_token(
        self, client, cast
    ):
        page = await client.get("/login")
        for origin in ("https://evil.example", "null"):
            response = await client.post(
                "/login",
                data={
                    "email": cast.alice.email,
                    "password": cast.alice.password,
                    "csrf": csrf_of(page.text),
                },
                headers={"Origin": origin},
            )
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "csrf"
        ours = await client.post(
            "/login",
            data={
                "email": cast.alice.email,
                "password": cast.alice.password,
                "csrf": csrf_of(page.text),
            },
            headers={"Origin": "http://test"},
        )
        assert ours.status_code == 303

    async def test_cookies_are_secure_and_hsts_is_sent_behind_https(self, settings, runtime, cast):
        settings.base_url = "https://desk.example"
        app = create_app(settings, runtime=runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://desk.example") as http:
            page = await http.get("/login")
            assert "secure" in page.headers["set-cookie"].lower()
            assert page.headers["strict-transport-security"].startswith("max-age=")
            response = await http.post(
                "/login",
                data={
                    "email": cast.alice.email,
                    "password": cast.alice.password,
                    "csrf": csrf_of(page.text),
                },
            )
            assert response.status_code == 303
            assert "fd_session=" in response.headers["set-cookie"]
            assert "secure" in response.headers["set-cookie"].lower()
            assert "strict-transport-security" in (await http.get("/healthz")).headers

    async def test_plain_http_gets_neither(self, client, cast):
        page = await client.get("/login")
        assert "secure" not in page.headers["set-cookie"].lower()
        assert "strict-transport-security" not in page.headers
