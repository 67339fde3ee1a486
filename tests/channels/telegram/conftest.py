"""Telegram fixtures: a fake Bot API on loopback that checks the bot token in the path and
what we send, answers in Telegram's shape, serves files and getUpdates; and a bot inbox."""

from __future__ import annotations

import copy
import json
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

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
UPDATES = Path(__file__).parent / "updates"


def update(name: str, **changes: Any) -> dict[str, Any]:
    """An example Update from Telegram's documentation (updates/NAME.json), with changes:
    `update_id`, and for the message inside: `message_id`, `text`, `chat_id`."""
    data: dict[str, Any] = json.loads((UPDATES / f"{name}.json").read_text())
    data = copy.deepcopy(data)
    if "update_id" in changes:
        data["update_id"] = changes.pop("update_id")
    body = next(data[k] for k in ("message", "edited_message", "callback_query") if k in data)
    for key, value in changes.items():
        if key == "chat_id":
            body["chat"]["id"] = value
            body["from"]["id"] = value
        else:
            body[key] = value
    return data


class FakeBotApi:
    """Bot API methods we call: getMe, getUpdates, getFile, sendMessage, sendPhoto, sendDocument,
    answerCallbackQuery, and the file URL. Failures are queued per method as Telegram-shaped
    error bodies."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.bad_tokens = 0
        self.updates: list[dict[str, Any]] = []
        self.offsets: list[int] = []
        self.ignore_offset = False
        self.files: dict[str, tuple[str, bytes]] = {}
        self.failures: dict[str, deque[tuple[int, dict[str, Any]]]] = {}
        self.next_message_id = 500
        self.webhook: dict[str, Any] | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST"])])
        self.address = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def fail(self, method: str, code: int, description: str, **parameters: Any) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        self.failures.setdefault(method, deque()).append((code, body))

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.calls if name == method]

    async def handle(self, request: Request) -> Response:
        path = request.path_params["path"]
        if path.startswith("file/"):
            return self._file(path)
        prefix, _, method = path.partition("/")
        if prefix != f"bot{self.token}":
            self.bad_tokens += 1
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401
            )
        payload = await self._payload(request)
        self.calls.append((method, payload))
        queued = self.failures.get(method)
        if queued:
            code, body = queued.popleft()
            return JSONResponse(body, status_code=code)
        answer = getattr(self, f"_{method}", None)
        if answer is None:
            return self._error(404, "Not Found: method not found")
        result = answer(payload)
        if isinstance(result, Response):
            return result
        return JSONResponse({"ok": True, "result": result})

    async def _payload(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            payload: dict[str, Any] = {}
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    data = await value.read()
                    payload[key] = {"filename": value.filename, "data": data,
                                    "content_type": value.content_type}  # fmt: skip
                else:
                    payload[key] = value
            return payload
        body = await request.body()
        return json.loads(body) if body else {}

    def _error(self, code: int, description: str) -> Response:
        return JSONResponse(
            {"ok": False, "error_code": code, "description": description}, status_code=code
        )

    def _file(self, path: str) -> Response:
        prefix = f"file/bot{self.token}/"
        if not path.startswith(prefix):
            self.bad_tokens += 1
            return Response(status_code=401)
        for file_path, data in self.files.values():
            if file_path == path[len(prefix) :]:
                return Response(data, media_type="application/octet-stream")
        return Response(status_code=404)

    def _getMe(self, payload: dict[str, Any]) -> Any:
        # https://core.telegram.org/bots/api#getme: the bot as a User.
        return {"id": int(self.token.split(":")[0]), "is_bot": True,
                "first_name": "Acme Support", "username": "acme_support_bot",
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}  # fmt: skip

    def _getUpdates(self, payload: dict[str, Any]) -> Any:
        offset = int(payload.get("offset") or 0)
        self.offsets.append(offset)
        assert isinstance(payload.get("timeout"), int)
        return [u for u in self.updates if self.ignore_offset or u["update_id"] >= offset]

    def _setWebhook(self, payload: dict[str, Any]) -> Any:
        if not str(payload.get("url", "")).startswith("http"):
            return self._error(400, "Bad Request: bad webhook: an HTTPS URL must be provided")
        self.webhook = payload
        return True

    def _deleteWebhook(self, payload: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    def _getFile(self, payload: dict[str, Any]) -> Any:
        file_id = payload.get("file_id")
        if file_id not in self.files:
            return self._error(400, "Bad Request: invalid file_id")
        file_path, data = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": "u" + file_id[:8],
                "file_size": len(data), "file_path": file_path}  # fmt: skip

    def _sent_message(self, chat_id: Any, **fields: Any) -> dict[str, Any]:
        self.next_message_id += 1
        return {"message_id": self.next_message_id, "date": 1441645600,
                "chat": {"id": int(chat_id), "type": "private"}, **fields}  # fmt: skip

    def _sendMessage(self, payload: dict[str, Any]) -> Any:
        if not isinstance(payload.get("text"), str) or not payload["text"]:
            return self._error(400, "Bad Request: message text is empty")
        if not str(payload.get("chat_id", "")).lstrip("-").isdigit():
            return self._error(400, "Bad Request: chat not found")
        return self._sent_message(payload["chat_id"], text=payload["text"])

    def _sendPhoto(self, payload: dict[str, Any]) -> Any:
        if not isinstance(payload.get("photo"), dict):
            return self._error(400, "Bad Request: there is no photo in the request")
        return self._sent_message(payload["chat_id"], photo=[{"file_id": "sent-photo"}])

    def _answerCallbackQuery(self, payload: dict[str, Any]) -> Any:
        query = payload.get("callback_query_id")
        if not isinstance(query, str) or not query:
            return self._error(400, "Bad Request: query is too old and response timeout expired")
        return True

    def _sendDocument(self, payload: dict[str, Any]) -> Any:
        if not isinstance(payload.get("document"), dict):
            return self._error(400, "Bad Request: there is no document in the request")
        return self._sent_message(payload["chat_id"], document={"file_id": "sent-doc"})


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    async with serve_app(fake.app) as address:
        fake.address = address
        yield fake


@dataclass
class Bot:
    id: int
    secret_token: str

    @property
    def hook(self) -> str:
        return f"/webhooks/telegram/{self.id}"

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-Telegram-Bot-Api-Secret-Token": self.secret_token,
            "content-type": "application/json",
        }


async def create_bot(
    client: httpx.AsyncClient, runtime: Runtime, cast: Cast, api: FakeBotApi, **settings: Any
) -> Bot:
    """A Telegram inbox created as an admin would (served by the Support team)."""
    teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
    support = next(t["id"] for t in teams if t["name"] == "Support")
    response = await client.post(
        "/api/v1/inboxes",
        json={
            "channel": "telegram",
            "name": "Bot",
            "team_ids": [support],
            "settings": {"bot_token": TOKEN, "api_base_url": api.base_url, **settings},
        },
        headers=cast.ada.headers,
    )
    assert response.status_code == 201, response.text
    inbox_id = response.json()["id"]
    async with runtime.db.session() as session:
        inbox = await session.get(Inbox, inbox_id)
        assert inbox is not None
        secret_token = opened(inbox, runtime.settings)["secret_token"]
    return Bot(inbox_id, secret_token)


@pytest.fixture
async def bot(client, runtime, cast, bot_api) -> Bot:  # type: ignore[no-untyped-def]
    return await create_bot(client, runtime, cast, bot_api)
