"""One pooled HTTP client per process for calls to providers and webhooks.

Building an `httpx.AsyncClient` costs milliseconds of CPU (a TLS context, certificate
loading) and every new client opens new connections: one per delivery held a worker to about
19 deliveries/s. The Runtime owns one client (`open_pool` on start, `close` on stop) and
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

# Connections one process keeps to all providers together. httpcore's pool scans every
# connection for each waiting request, so a bigger pool costs CPU on every call: callers bound
# their own concurrency instead (conversations.outbox sends a wave of JOB_CONCURRENCY).
MAX_CONNECTIONS = 64
KEEPALIVE_CONNECTIONS = 32
KEEPALIVE_SECONDS = 30.0

_pooled: ContextVar[httpx.AsyncClient | None] = ContextVar("frontdesk_http_pool", default=None)


def open_pool(timeout: float) -> httpx.AsyncClient:
    """A new pooled client (the Runtime's); `install` makes it the one `calls` hands out."""
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        # Shared by every inbox: a cookie one provider sets must never ride along to another.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_SECONDS,
        ),
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
