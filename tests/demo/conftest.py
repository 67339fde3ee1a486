"""The demo as `frontdesk demo` runs it: development settings whose BASE_URL is a real
loopback server of the app (the adapters call the demo providers there), the demo seeded,
and the outbound mail sink listening."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.demo.mail import MailSink
from frontdesk.runtime import Runtime
from frontdesk.seed import seed
from tests.conftest import free_port, serve_app

T = TypeVar("T")


@pytest.fixture
def demo_port() -> int:
    return free_port()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, demo_port: int) -> Settings:
    return Settings(
        env="development",
        data_dir=tmp_path / "data",
        database_url=db_url,
        base_url=f"http://127.0.0.1:{demo_port}",
        allow_private_webhooks=True,
        demo_mail_port=free_port(),
        job_poll_seconds=0.05,
        job_backoff_base_seconds=0.01,
        job_backoff_max_seconds=0.05,
        job_lease_seconds=5,
        job_max_attempts=3,
    )


@dataclass
class Demo:
    base: str
    token: str
    sink: MailSink

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def demo(runtime: Runtime, app: Any, demo_port: int) -> AsyncIterator[Demo]:
    seeded = await seed(runtime, history=False)
    sink = MailSink(runtime.settings)
    await sink.start()
    try:
        async with serve_app(app, port=demo_port) as address:
            yield Demo(f"http://{address}", seeded.token, sink)
    finally:
        await sink.stop()


async def until(probe: Callable[[], Awaitable[T | None]], timeout: float = 30.0) -> T:
    """Wait for `probe` to return something truthy (the suite runs under load)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        await asyncio.sleep(0.05)


async def phone_send(
    client: httpx.AsyncClient, channel: str, persona: str, text: str, **files: Any
) -> httpx.Response:
    """What the phone page's form does: load the page (its form token), then post."""
    page = await client.get(f"/demo/phone?channel={channel}&persona={persona}")
    assert page.status_code == 200, page.text
    form = {"csrf": client.cookies["fd_csrf"], "channel": channel, "persona": persona, "text": text}
    return await client.post(
        "/demo/phone/send", data=form, files=files or None, headers={"HX-Request": "true"}
    )


async def feed(client: httpx.AsyncClient, channel: str, persona: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/demo/phone/feed.json?channel={channel}&persona={persona}")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items
