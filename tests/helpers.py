"""Helpers shared by the desk and webchat tests: a webchat inbox and visitor sockets."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.runtime import Runtime
from tests.conftest import Cast


@dataclass
class Chat:
    id: int
    secret: str


async def make_chat(runtime: Runtime, cast: Cast, **settings: Any) -> Chat:
    """A webchat inbox served by the Support team (Alice), like the website's widget."""
    async with runtime.db.session() as session:
        from frontdesk.auth import repository as auth_repository

        support = await auth_repository.get_team_by_name(session, "Support")
        assert support is not None
        inbox = await inboxes.create_inbox(
            session,
            InboxCreate(channel="webchat", name="Chat", team_ids=[support.id], settings=settings),
            runtime.settings,
        )
        await uow.commit(session)
    return Chat(inbox.id, inbox.secret)


async def visitor_token(client: httpx.AsyncClient, chat: Chat, **extra: Any) -> str:
    response = await client.post(
        "/widget/api/session", content=json.dumps({"inbox_id": chat.id, **extra})
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


class Visitor:
    """A visitor's socket: collects every frame the server sends."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, address: str, token: str, since: int = 0) -> Visitor:
        ws = await websockets.connect(f"ws://{address}/widget/ws?token={token}&since={since}")
        visitor = cls(ws)
        await visitor.next("hello")
        return visitor

    async def next(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                frame = json.loads(await self.ws.recv())
                self.frames.append(frame)
                if frame["type"] == kind:
                    return frame

        return await asyncio.wait_for(wait(), timeout)

    async def say(self, client_id: str, text: str) -> dict[str, Any]:
        await self.ws.send(json.dumps({"type": "message", "id": client_id, "text": text}))
        return await self.next("ack")

    async def messages(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        got = [await self.next("message", timeout) for _ in range(count)]
        return [frame["message"] for frame in got]

    async def drain(self, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Read every frame that arrives within `seconds`; answer the message frames."""
        try:
            while True:
                self.frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), seconds)))
        except TimeoutError:
            pass
        return [f["message"] for f in self.frames if f["type"] == "message"]

    async def close(self) -> None:
        await self.ws.close()
