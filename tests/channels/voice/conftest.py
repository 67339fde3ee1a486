"""Voice fixtures: a fake Twilio-compatible voice provider on loopback. Its REST API (Calls,
Recordings: served, then deleted; Accounts) checks HTTP basic auth; its call simulator
drives a call through our webhooks as the provider would: every request signed exactly as
Twilio signs (kit.twilio), every TwiML answer parsed and checked (verbs, nesting, attributes)
and followed (Gather actions with digits, Redirects, Dial actions)."""

from __future__ import annotations

import base64
import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from frontdesk.kit.twilio import signature
from frontdesk.runtime import Runtime
from tests.conftest import Cast, serve_app

ACCOUNT_SID = "AC7d2f9e1c3b5a4d6e8f0a1b2c3d4e5f60"
AUTH_TOKEN = "4f1e8d2c6b9a3e7d5c1b0a9f8e7d6c5b"
OUR_NUMBER = "+14155550199"
ALWAYS_OPEN = {"open_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
               "opens_at": "00:00", "closes_at": "24:00"}  # fmt: skip
# What TwiML may contain, and where (Twilio's documented nesting).
VERBS = {"Say", "Play", "Pause", "Gather", "Redirect", "Dial", "Record", "Hangup", "Enqueue"}
NESTED = {"Gather": {"Say", "Play", "Pause"}, "Dial": {"Client", "Number", "Queue"}}
SAY_LANGUAGES = {"ar-AE", "fa-IR", "en-US"}
AUDIO = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 400  # a tiny MP3


def check_twiml(text: str) -> ET.Element:
    """Parse a TwiML document and check it as the provider would (a bad one ends the call
    with "application error")."""
    root = ET.fromstring(text)
    assert root.tag == "Response", text
    for verb in root:
        assert verb.tag in VERBS, f"unknown verb {verb.tag}: {text}"
        allowed = NESTED.get(verb.tag)
        for child in verb:
            assert allowed is not None and child.tag in allowed, f"{child.tag} in {verb.tag}"
        for node in [verb, *verb]:
            if node.tag == "Say":
                assert node.get("language") in SAY_LANGUAGES, text
                assert (node.text or "").strip(), text
            if node.tag in ("Play", "Redirect"):
                assert urlsplit((node.text or "").strip()).scheme in ("http", "https"), text
        if verb.tag in ("Gather", "Record") or (verb.tag == "Dial" and verb.get("action")):
            assert urlsplit(verb.get("action") or "").scheme in ("http", "https"), text
    return root


def says(root: ET.Element) -> list[tuple[str, str]]:
    """(language, text) of every <Say>, in order."""
    return [(node.get("language") or "", node.text or "") for node in root.iter("Say")]


class FakeVoiceProvider:
    """The parts of the provider's REST API we call, behind HTTP basic auth."""

    def __init__(self) -> None:
        self.recordings: dict[str, bytes] = {}
        self.recording_gets: list[str] = []
        self.deleted: list[str] = []
        self.calls_created: list[dict[str, str]] = []
        # (CallSid, Status, PauseBehavior) of each recording status change, in order.
        self.recording_changes: list[tuple[str, str, str | None]] = []
        self.bad_auth = 0
        self.app = Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}.json", self.account, methods=["GET"]),
                Route("/2010-04-01/Accounts/{sid}/Calls.json", self.create_call, methods=["POST"]),
                Route(
                    "/2010-04-01/Accounts/{sid}/Recordings/{rec}.mp3",
                    self.get_recording,
                    methods=["GET"],
                ),
                Route(
                    "/2010-04-01/Accounts/{sid}/Recordings/{rec}.json",
                    self.delete_recording,
                    methods=["DELETE"],
                ),
                Route(
                    "/2010-04-01/Accounts/{sid}/Calls/{call}/Recordings/{rec}.json",
                    self.update_recording,
                    methods=["POST"],
                ),
            ]
        )
        self.address = ""

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def recording_url(self, sid: str) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        ok = (
            request.path_params["sid"] == ACCOUNT_SID
            and request.headers.get("authorization") == f"Basic {expected}"
        )
        self.bad_auth += not ok
        return ok

    def _refused(self) -> Response:
        return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)

    async def account(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._refused()
        return JSONResponse({"sid": ACCOUNT_SID, "friendly_name": "Acme voice", "status": "active"})

    async def create_call(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._refused()
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.calls_created.append(form)
        if not form.get("To", "").startswith("+") or form.get("From") != OUR_NUMBER:
            return JSONResponse({"code": 21205, "message": "Invalid To/From", "status": 400}, 400)
        if urlsplit(form.get("Url", "")).scheme not in ("http", "https"):
            return JSONResponse({"code": 21205, "message": "Url is not valid", "status": 400}, 400)
        sid = "CA" + secrets.token_hex(16)
        return JSONResponse({"sid": sid, "status": "queued", "to": form["To"]}, 201)

    async def get_recording(self, request: Request) -> Response:
        self.recording_gets.append(request.path_params["rec"])
        if not self._authorised(request):
            return self._refused()
        data = self.recordings.get(request.path_params["rec"])
        if data is None:
            return JSONResponse({"code": 20404, "message": "Not found", "status": 404}, 404)
        return Response(data, media_type="audio/mpeg")

    async def update_recording(self, request: Request) -> Response:
        """Pause or resume a call's recording (Twilio.CURRENT: the one in progress)."""
        if not self._authorised(request):
            return self._refused()
        form = {key: str(value) for key, value in (await request.form()).items()}
        status = form.get("Status", "")
        call = request.path_params["call"]
        if request.path_params["rec"] != "Twilio.CURRENT" or not call.startswith("CA"):
            return JSONResponse({"code": 20404, "message": "Not found", "status": 404}, 404)
        if status not in ("paused", "in-progress", "stopped"):
            return JSONResponse({"code": 21220, "message": "Invalid Status", "status": 400}, 400)
        self.recording_changes.append((call, status, form.get("PauseBehavior")))
        return JSONResponse({"sid": "RE" + "0" * 32, "call_sid": call, "status": status})

    async def delete_recording(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._refused()
        rec = request.path_params["rec"]
        if self.recordings.pop(rec, None) is None:
            return JSONResponse({"code": 20404, "message": "Not found", "status": 404}, 404)
        self.deleted.append(rec)
        return Response(status_code=204)


@pytest.fixture
async def provider() -> AsyncIterator[FakeVoiceProvider]:
    fake = FakeVoiceProvider()
    async with serve_app(fake.app) as address:
        fake.address = address
        yield fake


@dataclass
class VoiceInbox:
    id: int
    base_url: str  # the app's BASE_URL: what the provider signs with the path
    webhook_url: str


@dataclass
class Caller:
    """One call as the provider runs it: each step posts a signed webhook and keeps the
    TwiML it was answered with (checked)."""

    client: httpx.AsyncClient
    inbox: VoiceInbox
    number: str
    sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    twiml: ET.Element | None = None
    token: str = AUTH_TOKEN

    def signed(self, url: str, params: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
        """The path, body and headers the provider sends to the absolute `url`."""
        assert url.startswith(self.inbox.base_url), url
        body = urlencode(params).encode()
        sig = signature(self.token, url, params.items())
        headers = {"X-Twilio-Signature": sig, "content-type": "application/x-www-form-urlencoded"}
        return url[len(self.inbox.base_url) :], body, headers

    def params(self, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID, "CallSid": self.sid, "From": self.number,
            "To": OUR_NUMBER, "Direction": "inbound", "CallStatus": "in-progress",
            "ApiVersion": "2010-04-01", **extra,
        }  # fmt: skip

    async def post(self, url: str, **extra: str) -> httpx.Response:
        path, body, headers = self.signed(url, self.params(**extra))
        response = await self.client.post(path, content=body, headers=headers)
        if response.status_code == 200 and response.headers["content-type"].startswith("text/xml"):
            self.twiml = check_twiml(response.text)
        return response

    async def ring(self) -> httpx.Response:
        return await self.post(self.inbox.webhook_url, CallStatus="ringing")

    def verb(self, name: str) -> ET.Element:
        assert self.twiml is not None
        found = self.twiml.find(name)
        assert found is not None, ET.tostring(self.twiml).decode()
        return found

    async def press(self, digits: str) -> httpx.Response:
        """Answer the current <Gather> with `digits`."""
        return await self.post(self.verb("Gather").get("action") or "", Digits=digits)

    async def follow_redirect(self) -> httpx.Response:
        """No key pressed: the <Redirect> after the <Gather> runs."""
        return await self.post((self.verb("Redirect").text or "").strip())

    async def agent_answers(self) -> httpx.Response:
        """The <Client> leg is picked up: its statusCallback (answered)."""
        client = self.verb("Dial").find("Client")
        assert client is not None and client.get("statusCallbackEvent") == "answered"
        return await self.post(
            client.get("statusCallback") or "", CallSid="CA" + secrets.token_hex(16),
            ParentCallSid=self.sid, CallStatus="in-progress",
        )  # fmt: skip

    async def dial_ends(self, status: str = "completed", duration: int = 42) -> httpx.Response:
        dial = self.verb("Dial")
        return await self.post(
            dial.get("action") or "", DialCallStatus=status, DialCallDuration=str(duration)
        )

    async def hang_up(self, duration: int = 30) -> httpx.Response:
        return await self.post(
            self.inbox.webhook_url + "/status", CallStatus="completed", CallDuration=str(duration)
        )

    async def recording(
        self, provider: FakeVoiceProvider, callback: str, *, sid: str | None = None
    ) -> tuple[str, httpx.Response]:
        """The recording is ready at the provider: its recordingStatusCallback."""
        sid = sid or "RE" + secrets.token_hex(16)
        provider.recordings.setdefault(sid, AUTH_TOKEN.encode() + AUDIO)
        response = await self.post(
            callback, RecordingSid=sid, RecordingUrl=provider.recording_url(sid),
            RecordingStatus="completed", RecordingDuration="42", RecordingChannels="2",
        )  # fmt: skip
        return sid, response


async def create_voice_inbox(
    client: httpx.AsyncClient, runtime: Runtime, cast: Cast, provider: FakeVoiceProvider,
    **settings: Any,
) -> VoiceInbox:  # fmt: skip
    """A voice inbox created as an admin would (served by the Support team)."""
    teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
    support = next(t["id"] for t in teams if t["name"] == "Support")
    response = await client.post(
        "/api/v1/inboxes",
        json={
            "channel": "voice",
            "name": "Phone",
            "team_ids": [support],
            "settings": {
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "phone_number": OUR_NUMBER,
                "api_base_url": provider.base_url,
                **settings,
            },
        },
        headers=cast.ada.headers,
    )
    assert response.status_code == 201, response.text
    inbox_id = response.json()["id"]
    shown = (await client.get(f"/api/v1/inboxes/{inbox_id}", headers=cast.ada.headers)).json()
    return VoiceInbox(inbox_id, runtime.settings.base_url.rstrip("/"), shown["webhook_url"])


@pytest.fixture
async def voice(client, runtime, cast, provider) -> VoiceInbox:  # type: ignore[no-untyped-def]
    return await create_voice_inbox(
        client, runtime, cast, provider, queue_choices=["1=1 Sales", "2=2 Support"],
        **ALWAYS_OPEN,
    )  # fmt: skip
