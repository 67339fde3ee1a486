"""Meta fixtures: a fake Graph API on loopback that checks the Page token and what we send
(Send API, comment replies, hiding, profiles), serves CDN files and answers Graph-shaped
errors; signed webhook deliveries built from the documentation's example payloads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
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

PAGE_ID = "1234567890"
IG_ID = "17841400000000000"
TOKEN = "EAAGm0PX4ZCpsBAPageToken0123456789"
APP_SECRET = "0123456789abcdef0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures"


def payload(name: str) -> dict[str, Any]:
    """An example notification from Meta's documentation (fixtures/NAME.json), its event
    timestamps moved to now (the examples are from 2016: past any reply window)."""
    data: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
    now = int(time.time() * 1000)
    for entry in data["entry"]:
        for item in entry.get("messaging", []):
            if "timestamp" in item:
                item["timestamp"] = now
        for change in entry.get("changes", []):
            if "created_time" in change["value"]:
                change["value"]["created_time"] = now // 1000
    return data


def event(data: dict[str, Any]) -> dict[str, Any]:
    """The first messaging event of a notification (to change it)."""
    return data["entry"][0]["messaging"][0]  # type: ignore[no-any-return]


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeGraphApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.bad_tokens = 0
        self.files: dict[str, tuple[str, bytes]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.failures: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
        self.next_id = 100
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])
        self.address = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.address}/v21.0"

    def file_url(self, name: str) -> str:
        return f"http://{self.address}/cdn/{name}"

    def fail(self, status: int, code: int, message: str, **headers: str) -> None:
        body = {"error": {"message": message, "type": "OAuthException", "code": code,
                          "fbtrace_id": "AbCdEf"}}  # fmt: skip
        self.failures.append((status, body, headers))

    def sent(self, path: str) -> list[dict[str, Any]]:
        return [body for method, p, body in self.calls if method == "POST" and p == path]

    async def handle(self, request: Request) -> Response:
        path = request.path_params["path"]
        if path.startswith("cdn/"):
            name = path[4:]
            if name not in self.files:
                return Response(status_code=404)
            kind, data = self.files[name]
            return Response(data, media_type=kind)
        path = path.removeprefix("v21.0/")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            self.bad_tokens += 1
            return self._error(400, 190, "Invalid OAuth access token.")
        body = await self._body(request)
        body.update({f"?{k}": v for k, v in request.query_params.items()})
        self.calls.append((request.method, path, body))
        if self.failures:
            status, error, headers = self.failures.popleft()
            return JSONResponse(error, status_code=status, headers=headers)
        if request.method == "GET" and path in (PAGE_ID, IG_ID):
            # GET /{page-id}?fields=id,name: the Page node (an Instagram inbox's id here).
            return JSONResponse({"id": path, "name": "Acme Outfitters"})
        if request.method == "GET":
            profile = self.profiles.get(path)
            if profile is None:
                return self._error(400, 100, "Unsupported get request.")
            return JSONResponse({"id": path, **profile})
        if path.endswith("/messages"):
            return self._send(body)
        if path.endswith("/comments") or path.endswith("/replies"):
            if not body.get("message"):
                return self._error(400, 100, "(#100) The parameter message is required")
            self.next_id += 1
            return JSONResponse({"id": f"reply_{self.next_id}"})
        if body.get("?is_hidden") in ("true", "false"):
            return JSONResponse({"success": True})
        return self._error(400, 100, "Unknown path")

    async def _body(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            out: dict[str, Any] = {}
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    out[key] = {"filename": value.filename, "data": await value.read(),
                                "content_type": value.content_type}  # fmt: skip
                else:
                    out[key] = json.loads(value) if value[:1] in "{[" else value
            return out
        raw = await request.body()
        return json.loads(raw) if raw else {}

    def _send(self, body: dict[str, Any]) -> Response:
        recipient = body.get("recipient") or {}
        message = body.get("message") or {}
        if not (recipient.get("id") or recipient.get("comment_id")):
            return self._error(400, 100, "(#100) The parameter recipient is required")
        if body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return self._error(400, 100, "(#100) Invalid messaging_type")
        if body["messaging_type"] == "MESSAGE_TAG" and body.get("tag") != "HUMAN_AGENT":
            return self._error(400, 100, "(#100) Tag is required for MESSAGE_TAG")
        if not (message.get("text") or message.get("attachment")):
            return self._error(400, 100, "(#100) Message cannot be empty")
        if message.get("attachment") and "filedata" not in body:
            return self._error(400, 100, "(#100) Upload attachment failure")
        self.next_id += 1
        return JSONResponse(
            {"recipient_id": recipient.get("id", "6789012345"), "message_id": f"m_{self.next_id}"}
        )

    def _error(self, status: int, code: int, message: str) -> Response:
        return JSONResponse(
            {"error": {"message": message, "type": "OAuthException", "code": code}},
            status_code=status,
        )


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    fake = FakeGraphApi()
    async with serve_app(fake.app) as address:
        fake.address = address
        yield fake


@dataclass
class Page:
    id: int
    verify_token: str
    channel: str

    @property
    def hook(self) -> str:
        return f"/webhooks/meta/{self.id}"

    async def deliver(self, client: httpx.AsyncClient, data: dict[str, Any] | bytes,
                      *, signature: str | None = None) -> httpx.Response:  # fmt: skip
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        headers = {"content-type": "application/json",
                   "X-Hub-Signature-256": signature or sign(body)}  # fmt: skip
        return await client.post(self.hook, content=body, headers=headers)


async def create_page(
    client: httpx.AsyncClient, runtime: Runtime, cast: Cast, api: FakeGraphApi,
    channel: str = "messenger", **settings: Any,
) -> Page:  # fmt: skip
    """A Messenger (or Instagram) inbox created as an admin would (served by Support)."""
    teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
    support = next(t["id"] for t in teams if t["name"] == "Support")
    response = await client.post(
        "/api/v1/inboxes",
        json={
            "channel": channel,
            "name": channel.title(),
            "team_ids": [support],
            "settings": {
                "page_id": PAGE_ID if channel == "messenger" else IG_ID,
                "page_access_token": TOKEN,
                "app_secret": APP_SECRET,
                "api_base_url": api.base_url,
                **settings,
            },
        },
        headers=cast.ada.headers,
    )
    assert response.status_code == 201, response.text
    inbox_id = response.json()["id"]
    async with runtime.db.session() as session:
        inbox = await session.get(Inbox, inbox_id)
        assert inbox is not None
        verify_token = opened(inbox, runtime.settings)["verify_token"]
    return Page(inbox_id, verify_token, channel)


@pytest.fixture
async def page(client, runtime, cast, graph) -> Page:  # type: ignore[no-untyped-def]
    return await create_page(client, runtime, cast, graph)


@pytest.fixture
async def ig(client, runtime, cast, graph) -> Page:  # type: ignore[no-untyped-def]
    return await create_page(client, runtime, cast, graph, channel="instagram")
