from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

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


Answer = Callable[[str, str, bytes, asyncio.StreamWriter], Awaitable[bool]]


class Scripted:
    """A raw loopback HTTP/1.1 server: each request (method, path, body) is answered by
    `answer`, which writes whatever bytes it likes and says whether to keep the connection.
    It notes each request's client port, the bodies and the connections open at once."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.ports: list[int] = []
        self.bodies: list[bytes] = []
        self.heads: list[bytes] = []
        self.open = 0
        self.most_open = 0

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                method, path, _ = head.split(b" ", 2)
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.ports.append(writer.get_extra_info("peername")[1])
                self.heads.append(head)
                self.bodies.append(body)
                if not await self.answer(method.decode(), path.decode(), body, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            writer.close()


@asynccontextmanager
async def scripted(answer: Answer) -> AsyncIterator[tuple[str, Scripted]]:
    server = Scripted(answer)
    listener = await asyncio.start_server(server.connection, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        listener.close()


def ok(body: bytes = b'{"ok": true}', *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers).encode()
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@asynccontextmanager
async def pool(**options: Any) -> AsyncIterator[httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=http.KeepAliveTransport(**options), timeout=5.0)
    try:
        yield client
    finally:
        await client.aclose()


class TestKeepAliveTransport:
    """The pooled client's own HTTP/1.1 transport, against raw servers."""

    async def test_keeps_one_connection_and_sends_the_body_whole(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(ok(b'{"echo": %d}' % len(body)))
            return True

        async with scripted(answer) as (url, server), pool() as client:
            first = await client.post(f"{url}/a", json={"text": "سلام، ممنون"})
            upload = await client.post(
                f"{url}/b", files={"file": ("a.txt", b"x" * 300_000)}, data={"to": "+98912"}
            )
            third = await client.get(f"{url}/c?x=1")
        assert first.json() == {"echo": len(server.bodies[0])}
        assert "سلام، ممنون" in server.bodies[0].decode()
        # A multipart body (a stream in httpx) goes whole, with its length, not chunked.
        assert upload.json() == {"echo": len(server.bodies[1])} and len(server.bodies[1]) > 300_000
        assert b"transfer-encoding" not in server.heads[1].lower()
        assert server.heads[2].startswith(b"GET /c?x=1 HTTP/1.1")
        assert third.status_code == 200 and len(set(server.ports)) == 1

    async def test_chunked_gzipped_and_informational_answers(self):
        packed = gzip.compress(b'{"name": "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7"}')

        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n")
            writer.write(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n")
            writer.write(b"content-encoding: gzip\r\ncontent-type: application/json\r\n\r\n")
            for start in range(0, len(packed), 7):
                piece = packed[start : start + 7]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            return True

        async with scripted(answer) as (url, server), pool() as client:
            first = await client.get(f"{url}/a")
            second = await client.get(f"{url}/b")
        assert first.status_code == 201 and first.reason_phrase == "Created"
        assert first.json() == {"name": "مرحبا"} == second.json()
        assert "link" not in first.headers  # the 103's headers are not the answer's
        assert len(set(server.ports)) == 1

    async def test_a_body_ended_by_closing_and_connection_close_are_not_reused(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            if path == "/until-close":
                writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
                return False
            writer.write(ok(b"closing", "connection: close"))
            return False

        async with scripted(answer) as (url, server), pool() as client:
            assert (await client.get(f"{url}/until-close")).text == "all of it"
            assert (await client.get(f"{url}/close")).text == "closing"
            assert (await client.get(f"{url}/close")).text == "closing"
        assert len(set(server.ports)) == 3

    async def test_an_answer_without_a_body_keeps_its_connection(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")  # no length: none can follow
            return True

        async with scripted(answer) as (url, server), pool() as client:
            first = await client.post(f"{url}/a", json={})
            second = await client.post(f"{url}/b", json={})
        assert first.status_code == second.status_code == 204 and second.content == b""
        assert len(set(server.ports)) == 1

    async def test_a_connection_the_server_closed_while_idle_is_replaced(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(ok())
            await writer.drain()
            return path != "/then-close"  # closed after answering, as an idle timeout would

        async with scripted(answer) as (url, server), pool() as client:
            await client.get(f"{url}/then-close")
            await asyncio.sleep(0.05)
            assert (await client.get(f"{url}/next")).json() == {"ok": True}
        assert len(set(server.ports)) == 2

    async def test_idle_connections_expire(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(ok())
            return True

        async with scripted(answer) as (url, server), pool(keepalive_expiry=0.05) as client:
            await client.get(f"{url}/a")
            await asyncio.sleep(0.1)
            await client.get(f"{url}/b")
        assert len(set(server.ports)) == 2

    async def test_read_timeout_counts_from_the_last_byte(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            if path == "/silent":
                await asyncio.sleep(1.5)
                return False
            whole = ok(b"x" * 8)
            for byte in range(len(whole)):  # 0.6 s in all, never 0.3 s without a byte
                writer.write(whole[byte : byte + 1])
                await writer.drain()
                await asyncio.sleep(0.6 / len(whole))
            return True

        async with scripted(answer) as (url, server), pool() as client:
            assert (await client.get(f"{url}/trickle", timeout=0.3)).text == "x" * 8
            started = asyncio.get_running_loop().time()
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"{url}/silent", timeout=0.3)
            assert asyncio.get_running_loop().time() - started < 1.0
            # The trickled call's connection served the silent one and was closed with it.
            assert (await client.get(f"{url}/after", timeout=1.0)).text == "x" * 8
        assert len(set(server.ports)) == 2

    @pytest.mark.parametrize(
        "reply",
        [b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", b"NOT HTTP AT ALL\r\n\r\n"],
        ids=["cut-off", "malformed"],
    )
    async def test_broken_answers_are_httpx_errors(self, reply: bytes):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(reply)
            return False

        async with scripted(answer) as (url, _server), pool() as client:
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                await client.get(f"{url}/a")

    async def test_connect_errors_are_httpx_errors(self):
        listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        listener.close()
        await listener.wait_closed()
        async with pool() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/")
            with pytest.raises(httpx.UnsupportedProtocol):
                await client.get("ftp://127.0.0.1/")

    async def test_at_most_max_connections_at_once_then_a_pool_timeout(self):
        release = asyncio.Event()

        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            await release.wait()
            writer.write(ok())
            return True

        async with scripted(answer) as (url, server), pool(max_connections=2) as client:
            calls = [asyncio.create_task(client.get(f"{url}/{n}")) for n in range(5)]
            await asyncio.sleep(0.1)
            assert server.open == 2
            with pytest.raises(httpx.PoolTimeout):
                await client.get(f"{url}/late", timeout=httpx.Timeout(5.0, pool=0.05))
            release.set()
            answers = await asyncio.gather(*calls)
        assert [a.status_code for a in answers] == [200] * 5
        assert server.most_open == 2 and len(set(server.ports)) == 2

    async def test_a_cancelled_call_does_not_leave_its_connection_for_the_next(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            if path == "/slow":
                await asyncio.sleep(0.3)
            writer.write(ok(path.encode()))
            return True

        async with scripted(answer) as (url, server), pool() as client:
            slow = asyncio.create_task(client.get(f"{url}/slow"))
            await asyncio.sleep(0.1)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            # The slow answer arriving late must not be read as the next call's.
            assert (await client.get(f"{url}/next")).text == "/next"
        assert len(set(server.ports)) == 2

    async def test_head_does_not_wait_for_a_body(self):
        async def answer(method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")
            return True

        async with scripted(answer) as (url, _server), pool() as client:
            answer_ = await client.head(f"{url}/a", timeout=1.0)
        assert answer_.status_code == 200 and answer_.content == b""
