"""Every demo route answers 404 outside development, as for a path that does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from frontdesk.app import create_app
from frontdesk.config import Settings
from frontdesk.runtime import Runtime

ROUTES = [
    ("GET", "/demo/phone"),
    ("GET", "/demo/phone/feed?channel=sms&persona=layla"),
    ("GET", "/demo/phone/feed.json?channel=sms&persona=layla"),
    ("POST", "/demo/phone/send"),
    ("GET", "/demo/phone/media/m0123456789abcdef"),
    ("GET", "/demo/demo.css"),
    ("GET", "/demo/mail"),
    ("GET", "/demo/mail/1234567890-abcdefabcdef.eml"),
    ("GET", "/demo/provider/sms/2010-04-01/Accounts/AC0000000000.json"),
    ("POST", "/demo/provider/sms/2010-04-01/Accounts/AC0000000000/Messages.json"),
    ("POST", "/demo/provider/whatsapp/123/messages"),
    ("GET", "/demo/provider/whatsapp/m1"),
    ("POST", "/demo/provider/telegram/bot1:abc/sendMessage"),
    ("POST", "/demo/provider/messenger/1/messages"),
    ("POST", "/demo/provider/sms_gateway/send"),
]


@pytest.fixture
async def production(db_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(
        env="production", data_dir=tmp_path / "prod", database_url=db_url,
        secret_key="a-real-secret-for-this-test-0123456789",
    )  # fmt: skip
    runtime = Runtime.build(settings, with_runner=False)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def test_demo_routes_are_not_found_in_production(production: Runtime) -> None:
    app = create_app(production.settings, runtime=production)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://prod") as client:
        for method, path in ROUTES:
            answer = await client.request(method, path, data={"csrf": "x"})
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert answer.json()["error"]["code"] == "not_found", path
