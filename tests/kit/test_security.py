from __future__ import annotations

import asyncio
import socket

import pytest

from frontdesk.config import EXAMPLE_SECRET, InsecureSettings, Settings
from frontdesk.kit.errors import Invalid
from frontdesk.kit.security import (
    HostVerdicts,
    NestingGuard,
    PasswordCost,
    check_outbound_host,
    check_outbound_url,
    check_password,
    hash_password,
    hash_password_async,
    loads,
    public_address,
    safe_content_type,
    sanitize_html,
    sign,
    verify_password,
    verify_signature,
)


def test_signature_round_trip_and_tampering():
    signature = sign("s3cret", b'{"a":1}')
    assert signature.startswith("sha256=")
    assert verify_signature("s3cret", b'{"a":1}', signature)
    assert not verify_signature("s3cret", b'{"a":2}', signature)
    assert not verify_signature("other", b'{"a":1}', signature)
    assert not verify_signature("s3cret", b'{"a":1}', None)
    assert not verify_signature("s3cret", b'{"a":1}', signature.removeprefix("sha256="))


def test_passwords_are_argon2():
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("wrong", hashed)


@pytest.mark.parametrize(
    ("html", "forbidden"),
    [
        ("<script>alert(1)</script>ok", "script"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<p style="position:fixed">x</p>', "style"),
        ("<iframe src='https://evil'></iframe>", "iframe"),
        ("<svg><script>alert(1)</script></svg>", "script"),
    ],
)
def test_sanitiser_removes_active_content(html, forbidden):
    assert forbidden not in (sanitize_html(html) or "")


def test_sanitiser_keeps_text_and_direction():
    clean = sanitize_html('<p dir="rtl">سلام <b>دنیا</b></p>')
    assert clean == '<p dir="rtl">سلام <b>دنیا</b></p>'


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8000/",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "file:///etc/passwd",
        "gopher://example.com",
    ],
)
def test_ssrf_guard_refuses_internal_targets(url):
    with pytest.raises(Invalid):
        check_outbound_url(url)


def test_ssrf_guard_allows_private_when_configured():
    check_outbound_url("http://127.0.0.1:9/hook", allow_private=True)


class TestHostVerdicts:
    @pytest.fixture
    def lookups(self, monkeypatch):
        """The hosts the resolver (the standard library's, a third party here) was asked."""
        asked: list[str] = []
        resolve = socket.getaddrinfo

        def counting(host, *args, **kwargs):
            asked.append(host)
            return resolve(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", counting)
        return asked

    def test_a_host_is_resolved_once_per_ttl_and_its_refusal_kept(self, lookups):
        now = [100.0]
        verdicts = HostVerdicts(ttl=30, clock=lambda: now[0])
        for _ in range(3):
            with pytest.raises(Invalid) as refused:
                verdicts.check("localhost", 8000)
            assert refused.value.code == "forbidden_url"
        assert lookups == ["localhost"]
        now[0] += 31  # past the TTL: asked again
        with pytest.raises(Invalid):
            verdicts.check("LOCALHOST", 8000)
        assert lookups == ["localhost", "LOCALHOST"]

    def test_hosts_and_ports_are_kept_apart_and_bounded(self, lookups):
        verdicts = HostVerdicts(ttl=30, size=2)
        for port in (1, 2, 3, 1):
            with pytest.raises(Invalid):
                verdicts.check("127.0.0.1", port)
        # Port 1's answer was the oldest of three, dropped for port 3's: asked again.
        assert lookups == ["127.0.0.1"] * 4


def test_production_refuses_the_example_secret():
    with pytest.raises(InsecureSettings):
        Settings(env="production", secret_key=EXAMPLE_SECRET).check_production()
    with pytest.raises(InsecureSettings):
        Settings(env="production", secret_key="short").check_production()
    Settings(env="production", secret_key="x" * 32).check_production()
    Settings(env="development").check_production()


def test_production_refuses_password_hashing_below_the_floor():
    strong = {"env": "production", "secret_key": "x" * 32}
    for passes, memory in ((1, 1024), (1, 19456), (10, 4096)):
        weak = Settings(**strong, password_time_cost=passes, password_memory_kib=memory)
        with pytest.raises(InsecureSettings):
            weak.check_production()
    for passes, memory in ((2, 19456), (1, 47104), (5, 7168), (3, 65536)):
        Settings(**strong, password_time_cost=passes, password_memory_kib=memory).check_production()
    Settings(env="development", password_time_cost=1, password_memory_kib=8).check_production()


def test_new_hashes_follow_the_cost_and_any_cost_verifies():
    cheap = hash_password("correct horse", PasswordCost(time_cost=1, memory_kib=1024))
    assert cheap.startswith("$argon2id$v=19$m=1024,t=1,")
    assert hash_password("correct horse").startswith("$argon2id$v=19$m=65536,t=3,")
    assert verify_password("correct horse", cheap)
    assert not verify_password("wrong", cheap)


async def test_password_checks_run_off_the_event_loop() -> None:
    hashed = await hash_password_async("correct horse")
    assert await check_password("correct horse", hashed)
    assert not await check_password("wrong", hashed)
    assert not await check_password("correct horse", None)  # no such account
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticking = asyncio.create_task(tick())
    await check_password("wrong", hashed)
    ticking.cancel()
    assert ticks >= 3  # the loop kept running while argon2 worked


class TestImages:
    """Only the message's own parts (cid:) may be images: any other source is fetched by the
    agent's browser on sight (relative ones with the desk's cookies)."""

    @pytest.mark.parametrize(
        "src",
        [
            "/api/v1/me/mentions/read",
            "/conversations/1",
            "conversations/1",
            "//evil.example/pixel.gif",
            "https://tracker.example/pixel.gif",
            "http://tracker.example/p.gif",
        ],
    )
    def test_non_cid_image_sources_are_dropped(self, src):
        clean = sanitize_html(f'<p>hi<img src="{src}" alt="logo"></p>') or ""
        assert "src=" not in clean and 'alt="logo"' in clean

    def test_cid_images_stay(self):
        assert 'src="cid:logo@x"' in (sanitize_html('<img src="cid:logo@x">') or "")

    def test_links_are_not_images(self):
        assert 'href="/conversations/1"' in (
            sanitize_html('<a href="/conversations/1">x</a>') or ""
        )


class TestNesting:
    @pytest.mark.parametrize("chunk", [1, 3, 1000])
    def test_depth_is_measured_across_chunks(self, chunk):
        body = b'{"a": "[[[[[\\"[[[[", "b": [[[1]]], "c": "\\\\"}'
        guard = NestingGuard(4)
        for start in range(0, len(body), chunk):
            guard.feed(body[start : start + chunk])
        assert guard.depth == 0
        with pytest.raises(Invalid):
            deeper = NestingGuard(3)
            for start in range(0, len(body), chunk):
                deeper.feed(body[start : start + chunk])

    @pytest.mark.parametrize("chunk", [1, 2, 1000])
    def test_bodies_with_few_brackets_are_counted_and_many_walked(self, chunk):
        """Up to `limit` opening brackets in all, nothing can nest deeper and nothing is
        walked; past it, the pieces counted so far are walked from the start."""
        deep = b"[[" + b"[[" + b"]]]]"  # the fourth opener arrives after three were counted
        with pytest.raises(Invalid):
            guard = NestingGuard(3)
            for start in range(0, len(deep), chunk):
                guard.feed(deep[start : start + chunk])
        wide = b'{"a": "[[[[[[", "b": [1], "c": [2]}'  # 9 openers, 2 levels
        guard = NestingGuard(2)
        for start in range(0, len(wide), chunk):
            guard.feed(wide[start : start + chunk])
        assert guard.depth == 0 and guard._counted is None  # walked, and within its limit
        few = NestingGuard(4)
        few.feed(b'{"a": [[1]]}')
        assert few._counted is not None  # 3 openers: counted only

    def test_a_hundred_thousand_levels_are_refused_not_a_recursion_error(self):
        with pytest.raises(Invalid):
            loads("[" * 100_000 + "]" * 100_000)
        assert loads('{"a": [[1]]}') == {"a": [[1]]}


class TestServerHosts:
    def test_private_hosts_are_refused_when_saved(self):
        for host in ("127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254"):
            with pytest.raises(Invalid) as raised:
                check_outbound_host(host, 25)
            assert raised.value.code == "forbidden_url"
        check_outbound_host("127.0.0.1", 25, allow_private=True)

    async def test_private_hosts_are_refused_at_connect_time(self):
        with pytest.raises(Invalid) as raised:
            await public_address("localhost", 993)
        assert raised.value.code == "forbidden_url"
        # Allowed (tests, demo): still resolved once, and the connection goes to that address.
        assert await public_address("localhost", 993, allow_private=True) in {"127.0.0.1", "::1"}

    async def test_an_unknown_host_is_invalid(self):
        with pytest.raises(Invalid) as raised:
            await public_address("no-such-host.invalid", 25)
        assert raised.value.code == "invalid_host"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("text/plain", "text/plain"),
        ("Image/PNG; name=x.png", "image/png"),
        ("application/vnd.ms-excel", "application/vnd.ms-excel"),
        ("text/plain\r\nX-Injected: 1", "application/octet-stream"),
        ("text/\x00plain", "application/octet-stream"),
        ("../../etc/passwd", "application/octet-stream"),
        ("", "application/octet-stream"),
        (None, "application/octet-stream"),
    ],
)
def test_content_types_are_bare_media_types(given, kept):
    assert safe_content_type(given) == kept
