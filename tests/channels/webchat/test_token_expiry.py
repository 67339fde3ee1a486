"""Visitor tokens expire (sliding, `FRONTDESK_WEBCHAT_TOKEN_DAYS`, 30 days by default): an
expired token gets 401 `token_expired` over HTTP and close code 4440 on the socket, is never
renewed, and a session started with it is a new anonymous visitor."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import websockets

from frontdesk.channels.webchat import tokens
from frontdesk.channels.webchat.tokens import VisitorClaims
from tests.helpers import Visitor, make_chat, visitor_token

DAY = 86400.0


async def restart(  # type: ignore[no-untyped-def]
    client, runtime, chat, token: str
) -> tuple[dict[str, Any], VisitorClaims, VisitorClaims]:
    """Start a widget session with `token`: the answer, the old token's claims, the new one's."""
    response = await client.post(
        "/widget/api/session", content=json.dumps({"inbox_id": chat.id, "token": token})
    )
    body: dict[str, Any] = response.json()
    before = tokens.read(runtime.settings.secret_key, token)
    after = tokens.read(runtime.settings.secret_key, body["token"])
    assert before is not None and after is not None
    return body, before, after


def aged(runtime, token: str, days: float) -> str:  # type: ignore[no-untyped-def]
    """The same visitor's token as it was issued `days` ago (30-day lifetime)."""
    claims = tokens.read(runtime.settings.secret_key, token)
    assert claims is not None
    return tokens.issue(
        runtime.settings.secret_key, claims, ttl_seconds=30 * DAY, now=time.time() - days * DAY
    )


class TestTokens:
    def test_expiry_is_signed_and_checked(self):
        claims = VisitorClaims(1, "vkey", None)
        token = tokens.issue("secret-key-123456", claims, ttl_seconds=60, now=1_000)
        read = tokens.read("secret-key-123456", token)
        assert read is not None and read.expires_at == 1_060
        assert not tokens.expired(read, now=1_059) and tokens.expired(read, now=1_060)

    def test_a_token_without_expiry_is_not_ours(self):
        body = tokens.issue("secret-key-123456", VisitorClaims(1, "vkey", None)).split(".")[0]
        import base64

        raw = json.dumps({"i": 1, "k": "vkey", "u": None}).encode()
        legacy = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        assert body != legacy
        forged = f"{legacy}.{tokens._mac('secret-key-123456', legacy)}"
        assert tokens.read("secret-key-123456", forged) is None


class TestHttp:
    async def test_session_token_lasts_the_configured_time(self, client, cast, runtime):
        runtime.settings.webchat_token_days = 2
        chat = await make_chat(runtime, cast)
        claims = tokens.read(runtime.settings.secret_key, await visitor_token(client, chat))
        assert claims is not None
        assert abs(claims.expires_at - (time.time() + 2 * DAY)) < 60

    async def test_session_renews_a_valid_token_for_the_same_visitor(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        old = aged(runtime, await visitor_token(client, chat), days=29)
        body, before, after = await restart(client, runtime, chat, old)
        assert body["expired"] is False
        assert after.key == before.key and after.expires_at > before.expires_at + 28 * DAY

    async def test_expired_token_starts_a_new_visitor(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        old = aged(runtime, await visitor_token(client, chat), days=31)
        body, before, after = await restart(client, runtime, chat, old)
        assert body["expired"] is True
        assert after.key != before.key

    async def test_expired_token_is_refused_with_a_clear_code(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        token = await visitor_token(client, chat)
        uploaded = await client.post(
            "/widget/api/upload",
            data={"token": token, "id": "upload-0100"},
            files={"file": ("a.txt", b"hello", "text/plain")},
        )
        file_id = uploaded.json()["message"]["attachments"][0]["id"]
        old = aged(runtime, token, days=31)
        refused = await client.post(
            "/widget/api/upload",
            data={"token": old, "id": "upload-0101"},
            files={"file": ("b.txt", b"hello", "text/plain")},
        )
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "token_expired"
        download = await client.get(f"/widget/api/attachments/{file_id}?token={old}")
        assert download.status_code == 401
        transcript = await client.post(
            "/widget/api/transcript",
            content=json.dumps({"token": old, "email": "a@example.com", "id": "transcript-01"}),
        )
        assert transcript.json()["error"]["code"] == "token_expired"


class TestSocket:
    async def test_expired_token_closes_with_4440(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        old = aged(runtime, await visitor_token(client, chat), days=31)
        ws = await websockets.connect(f"ws://{live_server}/widget/ws?token={old}")
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4440

    async def test_invalid_token_still_closes_with_4401(self, client, cast, runtime, live_server):
        await make_chat(runtime, cast)
        ws = await websockets.connect(f"ws://{live_server}/widget/ws?token=abc.def")
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async def test_hello_hands_out_a_renewed_token(self, client, cast, runtime, live_server):
        chat = await make_chat(runtime, cast)
        old = aged(runtime, await visitor_token(client, chat), days=20)
        visitor = await Visitor.connect(live_server, old)
        hello = next(f for f in visitor.frames if f["type"] == "hello")
        renewed = tokens.read(runtime.settings.secret_key, hello["token"])
        before = tokens.read(runtime.settings.secret_key, old)
        assert renewed is not None and before is not None
        assert renewed.key == before.key and renewed.expires_at > before.expires_at + 19 * DAY
        await visitor.close()
