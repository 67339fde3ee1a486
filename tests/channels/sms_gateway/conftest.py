"""SMS gateway fixtures: a fake operator gateway on loopback that checks our HMAC and the
JSON shape the inbox's outbound mapping names, and a gateway inbox with custom mappings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened
from frontdesk.runtime import Runtime
from tests.conftest import Cast, serve_app

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "X-Gateway-Signature"
# The operator's mapping: where its JSON puts each part.
SETTINGS: dict[str, Any] = {
    "from_number": "30001234",
    "default_region": "IR",
    "signing": {"header": HEADER, "algorithm": "sha256", "encoding": "base64",
                "prefix": "sha256="},
    "inbound_fields": {"from": "data.sender", "text": "data.message", "id": "msg_id",
                       "to": "data.receiver"},
    "outbound_fields": {"to": "recipient", "text": "message", "from": "sender",
                        "reference": "client_ref", "response_id": "result.msg_id",
                        "response_error": "error.description"},
    "status_fields": {"id": "msg_id", "status": "state", "error_code": "err",
                      "error": "err_text"},
}  # fmt: skip


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def signed(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


class FakeGateway:
    """Takes our replies: checks the signature header and the mapped JSON; answers with
    its own id under result.msg_id, or queued failures."""

    def __init__(self) -> None:
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.bad_signatures = 0
        self.failures: deque[tuple[int, dict[str, Any]]] = deque()
        self.app = Starlette(routes=[Route("/send", self.send, methods=["POST"])])
        self.address = ""

    @property
    def url(self) -> str:
        return f"http://{self.address}/send"

    async def send(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get(HEADER) != signed(self.secret, body):
            self.bad_signatures += 1
            return JSONResponse({"error": {"description": "bad signature"}}, status_code=401)
        payload = json.loads(body)
        self.received.append(payload)
        self.headers.append(dict(request.headers))
        if self.failures:
            status, answer = self.failures.popleft()
            return JSONResponse(answer, status_code=status)
        if set(payload) != {"recipient", "message", "sender", "client_ref"}:
            return JSONResponse({"error": {"description": "bad fields"}}, status_code=400)
        return JSONResponse({"result": {"msg_id": "gw-out-" + secrets.token_hex(4)}})


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway()
    async with serve_app(fake.app) as address:
        fake.address = address
        yield fake


@dataclass
class GatewayInbox:
    id: int
    secret: str

    @property
    def hook(self) -> str:
        return f"/webhooks/sms_gateway/{self.id}"

    def headers(self, body: bytes, secret: str | None = None) -> dict[str, str]:
        return {HEADER: signed(secret or self.secret, body), "content-type": "application/json"}


async def create_gateway_inbox(
    client: httpx.AsyncClient, runtime: Runtime, cast: Cast, gateway: FakeGateway, **extra: Any
) -> GatewayInbox:
    teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
    support = next(t["id"] for t in teams if t["name"] == "Support")
    response = await client.post(
        "/api/v1/inboxes",
        json={
            "channel": "sms_gateway",
            "name": "Operator SMS",
            "team_ids": [support],
            "settings": {**SETTINGS, "outbound_url": gateway.url, **extra},
        },
        headers=cast.ada.headers,
    )
    assert response.status_code == 201, response.text
    inbox_id = response.json()["id"]
    async with runtime.db.session() as session:
        inbox = await session.get(Inbox, inbox_id)
        assert inbox is not None
        secret = opened(inbox, runtime.settings)["secret"]
    gateway.secret = secret
    return GatewayInbox(inbox_id, secret)


@pytest.fixture
async def operator(client, runtime, cast, gateway) -> GatewayInbox:  # type: ignore[no-untyped-def]
    return await create_gateway_inbox(client, runtime, cast, gateway)


async def deliver(client, inbox: GatewayInbox, payload: dict[str, Any], *, path: str = ""):  # type: ignore[no-untyped-def]
    body = json.dumps(payload, ensure_ascii=False).encode()
    return await client.post(inbox.hook + path, content=body, headers=inbox.headers(body))
