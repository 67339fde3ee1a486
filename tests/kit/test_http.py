from __future__ import annotations

from typing import Any

from frontdesk.kit import http
from frontdesk.runtime import Runtime
from tests.conftest import serve_app


class Peers:
    """A loopback endpoint that notes which client port each request came from, answers
    /redirect with a 302 to /landing and /cookie with a Set-Cookie."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.paths: list[str] = []
        self.cookies: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.ports.append(scope["client"][1])
        self.paths.append(scope["path"])
        headers = dict(scope["headers"])
        self.cookies.append(headers.get(b"cookie", b"").decode() or None)
        extra: list[tuple[bytes, bytes]] = []
        status = 200
        if scope["path"] == "/redirect":
            status, extra = 302, [(b"location", b"/landing")]
        elif scope["path"] == "/cookie":
            extra = [(b"set-cookie", b"session=provider-a; Path=/")]
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b"{}"})


class TestPool:
    async def test_runtime_owns_one_client_from_start_to_stop(self, settings):
        runtime = Runtime.build(settings, with_runner=False)
        await runtime.start()
        client = runtime.http_client
        assert client is not None and not client.is_closed
        assert http.pooled() is client  # installed for this task and those it starts
        await runtime.stop()
        assert client.is_closed and runtime.http_client is None
        assert http.pooled() is None

    async def test_calls_reuse_the_pooled_connection(self, runtime):
        peers = Peers()
        token = http.install(http.open_pool(5.0))
        try:
            async with serve_app(peers) as address:
                for _ in range(3):
                    async with http.calls(5.0) as client:
                        assert (await client.get(f"http://{address}/a")).status_code == 200
        finally:
            pool = http.pooled()
            http.uninstall(token)
            assert pool is not None
            await pool.aclose()
        assert len(set(peers.ports)) == 1  # one kept-alive connection for the three calls

    async def test_without_a_pool_each_block_has_its_own_client(self, runtime):
        peers = Peers()
        token = http.install(None)
        try:
            async with serve_app(peers) as address:
                for _ in range(2):
                    async with http.calls(5.0) as client:
                        await client.get(f"http://{address}/a")
                    assert client._client.is_closed
        finally:
            http.uninstall(token)
        assert len(set(peers.ports)) == 2

    async def test_redirects_are_not_followed_and_cookies_not_kept(self, runtime):
        peers = Peers()
        pool = http.open_pool(5.0)
        token = http.install(pool)
        try:
            async with serve_app(peers) as address, http.calls(5.0) as client:
                answer = await client.get(f"http://{address}/redirect")
                await client.get(f"http://{address}/cookie")
                await client.get(f"http://{address}/next")
        finally:
            http.uninstall(token)
            await pool.aclose()
        # A redirect would skip the SSRF check of the URL it points to.
        assert answer.status_code == 302 and "/landing" not in peers.paths
        # One inbox's provider must not see another's cookies through the shared client.
        assert peers.cookies == [None, None, None]
