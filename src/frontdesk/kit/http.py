"""One pool of HTTP clients per process (a client per provider host) for calls to
providers and webhooks.

Building an `httpx.AsyncClient` costs milliseconds of CPU (a TLS context, certificate
loading) and every new client opens new connections: one per delivery held a worker to about
19 deliveries/s. The Runtime owns one pool (`open_pool` on start, `close` on stop) and
installs it for the tasks it starts (a context variable, so two runtimes in one process, as
in tests, keep their own). Code outside a runtime (a request handler's "test connection", a
script) gets a client for that one call, as before.

Every call goes through `Calls`, which fixes what each call site used to pass: the caller's
timeout and no redirects (a redirect would skip the SSRF check that callers run on each URL
they build, kit.security.check_outbound_url)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar, Token
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

# Connections one process keeps to each provider host (one client per host: httpcore's pool
# scans every connection it holds, idle ones included, for each request, so one pool for all
# hosts made every call pay for the others' connections). Callers bound their own concurrency
# (conversations.outbox sends a wave of JOB_CONCURRENCY/2 per batch).
MAX_CONNECTIONS = 32
KEEPALIVE_CONNECTIONS = 16
KEEPALIVE_SECONDS = 30.0


class Pool:
    """The process's clients, one per (scheme, host, port), made on first use; what
    `open_pool` returns and `calls` hands out."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._clients: dict[tuple[str, str, int | None], httpx.AsyncClient] = {}
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    def client_for(self, url: str | httpx.URL) -> httpx.AsyncClient:
        parsed = httpx.URL(url)
        key = (parsed.scheme, parsed.host, parsed.port)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = _client(self.timeout)
        return client

    async def aclose(self) -> None:
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def _client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        # Never shared between inboxes anyway: a cookie a provider sets must not ride along.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_SECONDS,
        ),
    )


_pooled: ContextVar[Pool | None] = ContextVar("frontdesk_http_pool", default=None)


def open_pool(timeout: float) -> Pool:
    """A new pool (the Runtime's); `install` makes it the one `calls` hands out."""
    return Pool(timeout)


def install(pool: Pool | None) -> Token[Pool | None]:
    """Make `pool` the one for this task and the tasks it starts from now on."""
    return _pooled.set(pool)


def uninstall(token: Token[Pool | None]) -> None:
    # stop() may run in another context than start() (a test fixture's teardown): there the
    # token cannot be reset, and the closed pool is skipped by `pooled` anyway.
    with suppress(ValueError):
        _pooled.reset(token)


def pooled() -> Pool | None:
    pool = _pooled.get()
    return pool if pool is not None and not pool.is_closed else None


class Calls:
    """The few verbs callers use, each with the caller's timeout and redirects off."""

    def __init__(self, client: httpx.AsyncClient | Pool, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        client = self._client
        if isinstance(client, Pool):
            client = client.client_for(url)
        return await client.request(
            method, url, timeout=self._timeout, follow_redirects=False, **kwargs
        )

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)


@asynccontextmanager
async def calls(timeout: float) -> AsyncIterator[Calls]:
    """The process's pool when a runtime installed one, else a client for this block only
    (closed at its end)."""
    pool = pooled()
    if pool is not None:
        yield Calls(pool, timeout)
        return
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as own:
        yield Calls(own, timeout)
