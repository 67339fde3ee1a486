"""One pooled HTTP client per process for calls to providers and webhooks.

Building an `httpx.AsyncClient` costs milliseconds of CPU (a TLS context, certificate
loading) and every new client opens new connections: one per delivery held a worker to about
19 deliveries/s. The Runtime owns one client (`open_pool` on start, `close` on stop) and
installs it for the tasks it starts (a context variable, so two runtimes in one process, as
in tests, keep their own). Code outside a runtime (a request handler's "test connection", a
script) gets a client for that one call, as before.

Every call goes through `Calls`, which fixes what each call site used to pass: the caller's
timeout and no redirects (a redirect would skip the SSRF check that callers run on each URL
they build, kit.security.check_outbound_url).

The pooled client speaks HTTP/1.1 through `KeepAliveTransport`, a transport of our own under
httpx's client: httpcore's pool scanned every connection it kept, and polled each idle one's
socket, on every request and every release, which was about a fifth of a delivery's CPU
(docs/performance.md). Here a request takes the newest idle connection of its origin (or opens
one) and gives it back, both O(1); a connection the peer closed is known from its protocol's
`connection_lost`, without a poll."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar, Token
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, cast

import httptools
import httpx

# Exchanges one process runs at once with all providers together, and connections it keeps
# open between them; callers bound their own concurrency too (conversations.outbox sends a
# wave of JOB_CONCURRENCY).
MAX_CONNECTIONS = 64
KEEPALIVE_CONNECTIONS = 32
KEEPALIVE_SECONDS = 30.0

# A body beyond this size is written out in pieces as the socket drains.
WRITE_HIGH_WATER = 256 * 1024

_Origin = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one exchange at a time; the response is parsed by httptools as
    its bytes arrive (callbacks below), and `exchange` waits for its last byte."""

    def __init__(self, origin: _Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._loop = asyncio.get_running_loop()
        self._parser: httptools.HttpResponseParser | None = None
        self._done: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._status = 0
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_complete = False
        self._until_close = False
        self._head_only = False
        self._keep_alive = False
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._read_timeout: float | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # bytes while idle: the peer broke the protocol; never reuse it
            self.close()
            return
        self._last_read = self._loop.time()
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self._done is not None and not self._done.done():
            if self._headers_complete and self._until_close:
                self._complete()  # a body delimited by the end of the connection
            else:
                self._fail(httpx.ReadError("the server closed the connection mid-response"))

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()
        if self._status < 200:
            return
        self._headers_complete = True
        names = {name.lower() for name, _ in self._headers}
        self._until_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and self._status not in (204, 304)  # never a body, whatever the headers say
        )
        if self._head_only:  # no body follows a HEAD; httptools cannot be told, so stop here
            self._until_close = False
            self._complete(reuse=False)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # an informational response: the real one follows
            self._headers, self._reason = [], b""
            return
        assert self._parser is not None
        # Read here: once the message is complete the parser starts over and forgets it.
        self._keep_alive = self._parser.should_keep_alive()
        self._complete()

    # exchanges
    def _complete(self, reuse: bool = True) -> None:
        if self._done is not None and not self._done.done():
            if not reuse:
                self.close()
            self._done.set_result(None)

    def _fail(self, error: Exception) -> None:
        self.close()
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)

    def _check_read(self) -> None:
        timeout = self._read_timeout
        if self._done is None or self._done.done() or timeout is None:
            return
        late = self._loop.time() - self._last_read
        if late >= timeout:
            self._fail(httpx.ReadTimeout(f"no response byte for {timeout} s"))
        else:  # bytes came meanwhile: the timeout counts from the last of them
            self._timer = self._loop.call_later(timeout - late, self._check_read)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(
        self, request: httpx.Request, head: bytes, body: bytes, read_timeout: float | None
    ) -> httpx.Response:
        assert self.transport is not None
        if self.closed:
            raise httpx.ReadError("the connection was closed")
        self._parser = httptools.HttpResponseParser(self)
        self._done = done = self._loop.create_future()
        self._status, self._reason, self._headers, self._body = 0, b"", [], []
        self._headers_complete = self._until_close = self._keep_alive = False
        self._head_only = request.method == "HEAD"
        self._last_read = self._loop.time()
        self._read_timeout = read_timeout
        if read_timeout is not None:
            self._timer = self._loop.call_later(read_timeout, self._check_read)
        try:
            self.transport.write(head)
            for start in range(0, len(body), WRITE_HIGH_WATER):
                if self._writable is not None:
                    await self._writable
                if self.closed:
                    break
                self.transport.write(body[start : start + WRITE_HIGH_WATER])
            await done
        except BaseException:
            self.close()  # cancelled or failed mid-exchange: the connection's state is unknown
            raise
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._parser = self._done = None
        if not self._keep_alive or self._until_close:
            self.close()
        return httpx.Response(
            self._status,
            headers=self._headers,
            stream=httpx.ByteStream(b"".join(self._body)),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self._reason.strip()},
        )


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over kept-alive connections, per origin (scheme, host, port): at most
    `max_connections` exchanges at once, at most `max_idle` connections kept between them, each
    for `keepalive_expiry` seconds. Timeouts are httpx's (connect, read, pool: the read timeout
    counts from the last byte received, as httpcore's does); errors are httpx's."""

    def __init__(
        self,
        max_connections: int = MAX_CONNECTIONS,
        max_idle: int = KEEPALIVE_CONNECTIONS,
        keepalive_expiry: float = KEEPALIVE_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._open: set[_Connection] = set()
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)
        self._ssl_context = ssl_context
        self._closed = False

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # certificates loaded on the first https call only
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        port = url.port or (443 if scheme == "https" else 80)
        # The ASCII host (an international name as IDNA), as the Host header has it.
        origin = (scheme, url.raw_host.decode("ascii"), port)
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()  # already in memory unless it was a stream (multipart)
        head = _request_head(request, len(body))
        slots = self._slots
        if slots.locked():
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout("no connection free in time", request=request) from None
        else:
            await slots.acquire()
        try:
            conn = self._take_idle(origin) or await self._connect(origin, request, timeouts)
            try:
                response = await conn.exchange(request, head, body, timeouts.get("read"))
            finally:
                if conn.closed:
                    self._open.discard(conn)
            self._give_back(conn)
            return response
        finally:
            slots.release()

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = asyncio.get_running_loop().time()
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if not conn.closed and now - conn.idle_since < self._expiry:
                return conn
            conn.close()
            self._open.discard(conn)
        return None

    def _give_back(self, conn: _Connection) -> None:
        if conn.closed:
            return
        if self._closed or self._idle_count >= self._max_idle:
            conn.close()
            self._open.discard(conn)
            return
        conn.idle_since = asyncio.get_running_loop().time()
        self._idle.setdefault(conn.origin, []).append(conn)
        self._idle_count += 1

    async def _connect(
        self, origin: _Origin, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._ssl() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=request
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(
                f"cannot connect to {host}:{port}: {exc}", request=request
            ) from exc
        self._open.add(conn)
        return conn

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()
        self._idle_count = 0


def _request_head(request: httpx.Request, length: int) -> bytes:
    """The request line and headers; the body is sent whole, with its length."""
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    has_length = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            continue  # a streamed body was read whole: it goes with a Content-Length
        if lowered == b"content-length":
            has_length = True
        lines.append(b"%s: %s\r\n" % (name, value))
    if not has_length and (length or request.method in ("POST", "PUT", "PATCH")):
        lines.append(b"Content-Length: %d\r\n" % length)
    lines.append(b"\r\n")
    return b"".join(lines)


_pooled: ContextVar[httpx.AsyncClient | None] = ContextVar("frontdesk_http_pool", default=None)


def open_pool(timeout: float) -> httpx.AsyncClient:
    """A new pooled client (the Runtime's); `install` makes it the one `calls` hands out."""
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        # Shared by every inbox: a cookie one provider sets must never ride along to another.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        transport=KeepAliveTransport(),
    )


def install(client: httpx.AsyncClient | None) -> Token[httpx.AsyncClient | None]:
    """Make `client` the pooled one for this task and the tasks it starts from now on."""
    return _pooled.set(client)


def uninstall(token: Token[httpx.AsyncClient | None]) -> None:
    # stop() may run in another context than start() (a test fixture's teardown): there the
    # token cannot be reset, and the closed client is skipped by `pooled` anyway.
    with suppress(ValueError):
        _pooled.reset(token)


def pooled() -> httpx.AsyncClient | None:
    client = _pooled.get()
    return client if client is not None and not client.is_closed else None


class Calls:
    """The few verbs callers use, each with the caller's timeout and redirects off."""

    def __init__(self, client: httpx.AsyncClient, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self._client.request(
            method, url, timeout=self._timeout, follow_redirects=False, **kwargs
        )

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)


@asynccontextmanager
async def calls(timeout: float) -> AsyncIterator[Calls]:
    """The process's pooled client when a runtime installed one, else a client for this
    block only (closed at its end)."""
    client = pooled()
    if client is not None:
        yield Calls(client, timeout)
        return
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as own:
        yield Calls(own, timeout)
