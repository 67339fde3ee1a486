"""SMS fixtures: a fake Twilio REST API on loopback (Messages resource and MMS media, both
behind HTTP basic auth), webhooks signed exactly as Twilio signs them, and an SMS inbox."""

from __future__ import annotations

import base64
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from frontdesk.channels.sms.adapter import signature
from frontdesk.runtime import Runtime
from tests.conftest import Cast, serve_app

ACCOUNT_SID = "ACf3a5c8a2d1b94e6f8a7c6d5e4f3a2b1c"
AUTH_TOKEN = "9d3a7c1e5b2f4a6d8c0e1f3a5b7c9d2e"
OUR_NUMBER = "+14155550100"
FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str, **changes: str) -> dict[str, str]:
    """An example payload from Twilio's documentation (fixtures/NAME.json), with changes."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    data.update(changes)
    return data


class FakeTwilio:
    """The parts of Twilio's REST API we call. Checks HTTP basic auth and the form we send;
    failures are queued as Twilio-shaped error bodies."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.bad_auth = 0
        self.failures: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
        self.media: dict[str, tuple[str, bytes]] = {}
        self.media_requests: list[str] = []
        self.next_sids: deque[str] = deque()
        self.app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self.create, methods=["POST"]),
                Route("/2010-04-01/Accounts/{sid}.json", self.account, methods=["GET"]),
                Route(
                    "/2010-04-01/Accounts/{sid}/Messages/{message}/Media/{media}",
                    self.serve_media,
                    methods=["GET"],
                ),
            ]
        )
        self.address = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def fail(self, status: int, name: str, **headers: str) -> None:
        self.failures.append((status, fixture(name), headers))

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        ok = (
            request.path_params["sid"] == ACCOUNT_SID
            and request.headers.get("authorization") == f"Basic {expected}"
        )
        if not ok:
            self.bad_auth += 1
        return ok

    async def create(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse(fixture("error_20003"), status_code=401)
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.sent.append(form)
        if self.failures:
            status, body, headers = self.failures.popleft()
            return JSONResponse(body, status_code=status, headers=headers)
        if not form.get("To", "").startswith("+") or not form.get("Body"):
            return JSONResponse(
                {"code": 21604, "message": "A 'To' phone number and a 'Body' are required.",
                 "more_info": "https://www.twilio.com/docs/errors/21604", "status": 400},
                status_code=400,
            )  # fmt: skip
        if form.get("From") != OUR_NUMBER or not form.get("StatusCallback"):
            return JSONResponse(
                {"code": 21606, "message": "The From phone number is not a valid number.",
                 "more_info": "https://www.twilio.com/docs/errors/21606", "status": 400},
                status_code=400,
            )  # fmt: skip
        sid = self.next_sids.popleft() if self.next_sids else "SM" + secrets.token_hex(16)
        body = fixture("message_created", sid=sid, to=form["To"], body=form["Body"])
        body["from"] = form["From"]
        return JSONResponse(body, status_code=201)

    async def account(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse(fixture("error_20003"), status_code=401)
        return JSONResponse(fixture("account", friendly_name="Acme support"))

    async def serve_media(self, request: Request) -> Response:
        self.media_requests.append(request.path_params["media"])
        if not self._authorised(request):
            return JSONResponse(fixture("error_20003"), status_code=401)
        found = self.media.get(request.path_params["media"])
        if found is None:
            return JSONResponse(
                {"code": 20404, "message": "The requested resource was not found",
                 "status": 404}, status_code=404,
            )  # fmt: skip
        content_type, data = found
        return Response(data, media_type=content_type)


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    async with serve_app(fake.app) as address:
        fake.address = address
        yield fake


@dataclass
class SmsInbox:
    id: int
    base_url: str  # the app's BASE_URL: what Twilio signs with the path

    @property
    def hook(self) -> str:
        return f"/webhooks/sms/{self.id}"

    @property
    def status_hook(self) -> str:
        return f"/webhooks/sms/{self.id}/status"

    def signed(
        self, path: str, params: dict[str, str], token: str = AUTH_TOKEN
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Twilio would send to `path` (signed over BASE_URL + path)."""
        body = urlencode(params).encode()
        sig = signature(token, self.base_url + path, params.items())
        return body, {
            "X-Twilio-Signature": sig,
            "content-type": "application/x-www-form-urlencoded",
        }


async def create_sms_inbox(
    client: httpx.AsyncClient, runtime: Runtime, cast: Cast, api: FakeTwilio, **settings: Any
) -> SmsInbox:
    """An SMS inbox created as an admin would (served by the Support team)."""
    teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
    support = next(t["id"] for t in teams if t["name"] == "Support")
    response = await client.post(
        "/api/v1/inboxes",
        json={
            "channel": "sms",
            "name": "SMS",
            "team_ids": [support],
            "settings": {
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "from_number": OUR_NUMBER,
                "default_region": "AE",
                "api_base_url": api.base_url,
                **settings,
            },
        },
        headers=cast.ada.headers,
    )
    assert response.status_code == 201, response.text
    return SmsInbox(response.json()["id"], runtime.settings.base_url.rstrip("/"))


@pytest.fixture
async def sms(client, runtime, cast, twilio) -> SmsInbox:  # type: ignore[no-untyped-def]
    return await create_sms_inbox(
        client, runtime, cast, twilio, help_text="Frontdesk support: reply STOP to opt out."
    )


async def deliver(client, inbox: SmsInbox, params: dict[str, str], *, path: str | None = None):  # type: ignore[no-untyped-def]
    body, headers = inbox.signed(path or inbox.hook, params)
    return await client.post(path or inbox.hook, content=body, headers=headers)
