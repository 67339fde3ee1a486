"""WhatsApp fixtures: a fake Graph API on loopback that checks the bearer token and the
shapes we send, answers in Meta's shape (errors, 429s), serves media by id; signed
notifications built from the documented example payloads (fixtures/NAME.json)."""

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

TOKEN = "EAAJB3xSbZBZCcBAKZC0ZBZCtest-access-token"
APP_SECRET = "c2b6a1f0e4d94b7e8f3a5d6c7b8a9e0f"
PHONE_NUMBER_ID = "106540352242922"
FIXTURES = Path(__file__).parent / "fixtures"
KINDS = ("text", "image", "audio", "video", "document", "sticker", "location", "contacts",
         "interactive", "template", "reaction")  # fmt: skip


def notification(name: str, **changes: Any) -> dict[str, Any]:
    """A documented example notification (fixtures/NAME.json) with changes to its first
    message or status: `id`, `text` (a text body), `timestamp`, `sender` (wa_id)."""
    data: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
    value = data["entry"][0]["changes"][0]["value"]
    item = (value.get("messages") or value.get("statuses"))[0]
    for key, change in changes.items():
        if key == "text":
            item["text"]["body"] = change
        elif key == "sender":
            item["from"] = change
            value["contacts"][0]["wa_id"] = change
        else:
            item[key] = str(change) if key == "timestamp" else change
    return data


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FakeGraphApi:
    """What we call: POST /{phone}/messages and /{phone}/media, GET /{phone} (the number),
    GET /{media_id} and the media URL. Every call must carry the bearer token; failures are
    queued as Meta's error bodies."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self.bad_tokens = 0
        self.media_down = False
        self.media: dict[str, tuple[str, bytes]] = {}
        self.failures: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
        self.next_id = 0
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])
        self.address = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.address}/v21.0"

    def fail(self, status: int, code: int, message: str, retry_after: str | None = None) -> None:
        body = {"error": {"message": message, "type": "OAuthException", "code": code,
                          "error_data": {"messaging_product": "whatsapp", "details": message},
                          "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}  # fmt: skip
        headers = {"retry-after": retry_after} if retry_after else {}
        self.failures.append((status, body, headers))

    def sent(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.messages if kind is None or m.get("type") == kind]

    def _error(self, status: int, code: int, message: str) -> Response:
        return JSONResponse(
            {"error": {"message": message, "type": "OAuthException", "code": code}},
            status_code=status,
        )

    async def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            self.bad_tokens += 1
            return self._error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        path = request.path_params["path"]
        if path.startswith("files/"):
            media_id = path.split("/", 1)[1]
            if media_id not in self.media:
                return Response(status_code=404)
            return Response(self.media[media_id][1], media_type=self.media[media_id][0])
        version, _, rest = path.partition("/")
        assert version == "v21.0", path
        if request.method == "GET" and rest == PHONE_NUMBER_ID:
            return self._phone_number(request)
        if request.method == "GET":
            return self._media_info(rest)
        phone, _, edge = rest.partition("/")
        if phone != PHONE_NUMBER_ID:
            return self._error(400, 100, "Unsupported post request. Object does not exist")
        if self.failures:
            status, body, headers = self.failures.popleft()
            return JSONResponse(body, status_code=status, headers=headers)
        if edge == "media":
            return await self._upload(request)
        if edge == "messages":
            return self._message(json.loads(await request.body()))
        return self._error(404, 100, "Unknown path components")

    def _phone_number(self, request: Request) -> Response:
        # GET /{phone_number_id}?fields=...: the WhatsApp Business phone number node.
        node = {"id": PHONE_NUMBER_ID, "display_phone_number": "+1 555-010-0199",
                "verified_name": "Acme Outfitters", "quality_rating": "GREEN",
                "code_verification_status": "VERIFIED"}  # fmt: skip
        asked = request.query_params.get("fields")
        if asked:
            node = {k: v for k, v in node.items() if k == "id" or k in asked.split(",")}
        return JSONResponse(node)

    def _media_info(self, media_id: str) -> Response:
        if self.media_down:
            return self._error(500, 2, "Service temporarily unavailable")
        if media_id not in self.media:
            return self._error(400, 100, "Unsupported get request. Object does not exist")
        mime, data = self.media[media_id]
        return JSONResponse({"messaging_product": "whatsapp", "id": media_id, "mime_type": mime,
                             "sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data),
                             "url": f"http://{self.address}/files/{media_id}"})  # fmt: skip

    async def _upload(self, request: Request) -> Response:
        form = await request.form()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not hasattr(upload, "read"):
            return self._error(400, 100, "Invalid parameter")
        data = await upload.read()
        self.next_id += 1
        self.uploads.append({"type": form.get("type"), "filename": upload.filename, "data": data})
        return JSONResponse({"id": f"media-{self.next_id}"})

    def _message(self, payload: dict[str, Any]) -> Response:
        if payload.get("messaging_product") != "whatsapp":
            return self._error(400, 100, "The parameter messaging_product is required.")
        if payload.get("status") == "read":
            self.messages.append(payload)
            return JSONResponse({"success": True})
        kind = payload.get("type")
        if kind not in KINDS or not isinstance(payload.get(kind), dict):
            return self._error(400, 100, f"Invalid parameter: type {kind!r}")
        if not str(payload.get("to", "")).isdigit():
            return self._error(400, 131030, "Recipient phone number not in allowed list")
        if kind == "text" and not payload["text"].get("body"):
            return self._error(400, 100, "The parameter text['body'] is required.")
        if kind == "template" and not payload["template"].get("language", {}).get("code"):
            return self._error(400, 132001, "Template name does not exist in the translation")
        self.messages.append(payload)
        self.next_id += 1
        wamid = f"wamid.SENT{self.next_id:04d}"
        return JSONResponse({"messaging_product": "whatsapp",
                             "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                             "messages": [{"id": wamid}]})  # fmt: skip


@pytest.fixture
async def graph_api() -> AsyncIterator[FakeGraphApi]:
    fake = FakeGraphApi()
    async with serve_app(fake.app) as address:
        fake.address = address
        yield fake


@dataclass
class Number:
    id: int
    verify_token: str

    @property
    def hook(self) -> str:
        return f"/webhooks/whatsapp/{self.id}"


async def create_number(
    client: httpx.AsyncClient, runtime: Runtime, cast: Cast, api: FakeGraphApi, **settings: Any
) -> Number:
    """A WhatsApp inbox created as an admin would (served by the Support team)."""
    teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
    support = next(t["id"] for t in teams if t["name"] == "Support")
    response = await client.post(
        "/api/v1/inboxes",
        json={
            "channel": "whatsapp",
            "name": "WhatsApp",
            "team_ids": [support],
            "settings": {
                "phone_number_id": PHONE_NUMBER_ID,
                "access_token": TOKEN,
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
    return Number(inbox_id, verify_token)


@pytest.fixture
async def number(client, runtime, cast, graph_api) -> Number:  # type: ignore[no-untyped-def]
    return await create_number(client, runtime, cast, graph_api)


async def deliver(client, number: Number, payload: dict[str, Any] | bytes, **headers: str):  # type: ignore[no-untyped-def]
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signed = {"X-Hub-Signature-256": sign(body), "content-type": "application/json"}
    return await client.post(number.hook, content=body, headers={**signed, **headers})


def now_stamp(hours_ago: float = 0) -> str:
    return str(int(time.time() - hours_ago * 3600))
