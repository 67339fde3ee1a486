"""Every inbound route of every channel verifies its channel's credential (issue 9, item 2):
walked without a credential and with a wrong one, each answers 401/403 and stores nothing.
The walk takes the channels from the adapter registry and the routes from the app, so a
channel or an inbound route added later joins it (or fails it until this table knows how to
make its inbox)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets
from sqlalchemy import func, select

import frontdesk.handlers  # noqa: F401  (imports every channel, which registers its adapter)
from frontdesk.channels import INSTALLED
from frontdesk.channels.email.models import Quarantined
from frontdesk.channels.webchat import tokens
from frontdesk.conversations.models import Message
from frontdesk.customers.models import Customer
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import adapter_for
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.kit.security import sign
from frontdesk.runtime import Runtime
from tests.channels.email.mails import mail
from tests.conftest import inbound_payload

TESTS = Path(__file__).parent
# An unused loopback port: no provider is called before a webhook's credential is checked.
NOWHERE = "http://127.0.0.1:9"


def fixture(*parts: str) -> str:
    return (TESTS.joinpath(*parts)).read_text(encoding="utf-8")


# What an inbox of each channel needs, and a body its inbound route would take if signed.
CHANNELS: dict[str, dict[str, Any]] = {
    "api": {"settings": {}, "body": json.dumps(inbound_payload("walk-1", "a@example.com"))},
    "email": {
        "settings": {
            "address": "walk@frontdesk.test",
            # What a forged mail over HTTP would claim: a pass from our trusted hop.
            "settings": {"trusted_authserv_id": "mx.frontdesk.test"},
        },
        "body": mail(
            sender="ceo@frontdesk.test",
            to="walk@frontdesk.test",
            headers={
                "Authentication-Results": "mx.frontdesk.test; spf=pass; dkim=pass; dmarc=pass"
            },
        ).decode(),
    },
    "webchat": {"settings": {}, "body": json.dumps({"id": "walk-0001", "text": "hi"})},
    "telegram": {
        "settings": {"settings": {"bot_token": "123456:walk-token-abc", "api_base_url": NOWHERE}},
        "body": fixture("telegram", "updates", "message_text.json"),
    },
    "whatsapp": {
        "settings": {
            "settings": {
                "phone_number_id": "106540352242922",
                "access_token": "walk-token",
                "app_secret": "walk-app-secret",
                "api_base_url": NOWHERE,
            }
        },
        "body": fixture("whatsapp", "fixtures", "text.json"),
    },
    **{
        channel: {
            "settings": {
                "settings": {
                    "page_id": "1234567890",
                    "page_access_token": "walk-token",
                    "app_secret": "walk-app-secret",
                    "api_base_url": NOWHERE,
                    "fetch_profiles": False,
                }
            },
            "body": fixture("meta", "fixtures", "message_text.json"),
        }
        for channel in ("messenger", "instagram")
    },
    "sms": {
        "settings": {
            "settings": {
                "account_sid": "AC" + "0" * 32,
                "auth_token": "walk-auth-token",
                "from_number": "+14155550100",
                "default_region": "AE",
                "api_base_url": NOWHERE,
            }
        },
        "body": urlencode(json.loads(fixture("sms", "fixtures", "incoming_sms.json"))),
        "content_type": "application/x-www-form-urlencoded",
    },
    "sms_gateway": {
        "settings": {
            "settings": {
                "from_number": "30001234",
                "default_region": "IR",
                "outbound_url": NOWHERE,
                "signing": {"header": "X-Gateway-Signature", "algorithm": "sha256"},
                "inbound_fields": {"from": "data.sender", "text": "data.message", "id": "msg_id"},
                "outbound_fields": {"to": "recipient", "text": "message"},
            }
        },
        "body": fixture("sms_gateway", "fixtures", "incoming.json"),
    },
    "voice": {
        "settings": {
            "settings": {
                "account_sid": "AC" + "1" * 32,
                "auth_token": "walk-auth-token",
                "phone_number": "+14155550111",
                "api_base_url": NOWHERE,
            }
        },
        "body": urlencode(
            {
                "AccountSid": "AC" + "1" * 32,
                "CallSid": "CA" + "2" * 32,
                "From": "+971501234567",
                "To": "+14155550111",
                "Direction": "inbound",
                "CallStatus": "ringing",
            }
        ),
        "content_type": "application/x-www-form-urlencoded",
    },
}
CHANNELS["cti"] = {
    "settings": {"settings": {"signing_secret": "walk-signing-secret-0123456789"}},
    "body": json.dumps(
        {"event": "offered", "call_id": "walk.1", "caller_id": "+971501234567", "extension": "201"}
    ),
}
# Forged credentials of every scheme a channel here uses: none of them may open any route.
FORGED: list[dict[str, str]] = [
    {},
    {"X-Frontdesk-Signature": sign("not-the-secret", b"")},
    {"X-Frontdesk-Signature": "sha256=" + "0" * 64},
    {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
    {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    {"X-Twilio-Signature": "bm90LXRoZS1zaWduYXR1cmU="},
    {"X-Gateway-Signature": "sha256=" + "0" * 64},
]
# Routes of a channel's own (beyond the shared inbound route), by path prefix: every POST
# route under it takes the channel's credential. The widget hands out its visitor tokens at
# /widget/api/session (anonymous by design); everything else there needs one.
CHANNEL_PREFIXES = {"webchat": "/widget/api/"}
CREDENTIAL_ISSUERS = {"/widget/api/session"}
# Routes that take a form (with a file); the others take JSON.
FORM_ROUTES = {"/widget/api/upload"}


# Fields of the walk's widget body that a route does not take.
NOT_TAKEN = {"/widget/api/transcript": ("text",)}


def app_routes(app: Any) -> list[tuple[set[str], str]]:
    """(methods, path) of every HTTP route of the app, included routers walked through."""
    found: list[tuple[set[str], str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif hasattr(route, "routes") and not hasattr(route, "methods"):
                walk(route.routes, prefix + getattr(route, "path", ""))
            elif getattr(route, "methods", None):
                found.append((set(route.methods), prefix + route.path))

    walk(app.router.routes, "")
    return found


async def make_inbox(runtime: Runtime, channel: str) -> Any:
    known = CHANNELS.get(channel)
    if known is None:
        pytest.fail(f"channel {channel!r} is new to the credential walk: add it to CHANNELS")
    async with runtime.db.session() as session:
        inbox = await inboxes.create_inbox(
            session,
            InboxCreate(channel=channel, name=f"Walk {channel}", **known["settings"]),
            runtime.settings,
        )
        await uow.commit(session)
    return inbox


async def nothing_stored(runtime: Runtime) -> None:
    async with runtime.db.session() as session:
        for model in (Message, Customer, Quarantined):
            assert await session.scalar(select(func.count()).select_from(model)) == 0, model
        await session.commit()


def test_the_walk_knows_every_registered_channel() -> None:
    assert sorted(CHANNELS) == sorted(INSTALLED)


def provider_routes(app: Any) -> list[str]:
    """POST routes of the providers' webhooks (one inbox each), outside the API."""
    return [
        path
        for methods, path in app_routes(app)
        if "POST" in methods and path.startswith("/webhooks/") and "{inbox_id}" in path
    ]


def webhook_prefix(channel: str) -> str | None:
    """Where the channel's provider webhooks live (`webhook_path` of a made-up inbox 0)."""
    hook = getattr(adapter_for(channel), "webhook_path", None)
    if hook is None:
        return None
    path: str | None = hook(Inbox(id=0, channel=channel, settings={}))
    return None if path is None else path.rsplit("/", 1)[0] + "/{inbox_id}"


def test_every_provider_webhook_belongs_to_a_channel(app) -> None:
    prefixes = {webhook_prefix(channel) for channel in INSTALLED} - {None}
    orphans = [
        path
        for path in provider_routes(app)
        if not any(path == p or path.startswith(f"{p}/") for p in prefixes if p is not None)
    ]
    assert orphans == [], "a webhook route no channel claims is not walked"


@pytest.mark.parametrize("channel", sorted(INSTALLED))
async def test_the_signed_inbound_routes_refuse_missing_and_wrong_credentials(
    channel, app, client, runtime, cast
):
    inbox = await make_inbox(runtime, channel)
    body = CHANNELS[channel]["body"].encode()
    content_type = CHANNELS[channel].get("content_type", "application/json")
    routes = [
        path for methods, path in app_routes(app) if "POST" in methods and "{inbox_id}" in path
    ]
    inbound = [path for path in routes if path.rsplit("/", 1)[-1] in ("inbound", "webhook")]
    assert "/api/v1/inboxes/{inbox_id}/inbound" in inbound
    prefix = webhook_prefix(channel)
    if prefix is not None:
        own = [p for p in provider_routes(app) if p == prefix or p.startswith(f"{prefix}/")]
        assert own, f"{channel} names a webhook path but has no route there"
        inbound += own
    for path in inbound:
        url = path.replace("{inbox_id}", str(inbox.id))
        for forged in FORGED:
            headers = {"content-type": content_type, **forged}
            response = await client.post(url, content=body, headers=headers)
            assert response.status_code in (401, 403), (channel, path, headers, response.text)
    await nothing_stored(runtime)


@pytest.mark.parametrize("channel", sorted(CHANNEL_PREFIXES))
async def test_a_channels_own_routes_refuse_missing_and_forged_credentials(
    channel, app, client, runtime, cast, live_server
):
    inbox = await make_inbox(runtime, channel)
    prefix = CHANNEL_PREFIXES[channel]
    routes = [
        path
        for methods, path in app_routes(app)
        if "POST" in methods and path.startswith(prefix) and path not in CREDENTIAL_ISSUERS
    ]
    assert routes, f"no routes of {channel} found under {prefix}"
    forged = tokens.issue("not-the-secret-key", tokens.VisitorClaims(inbox.id, "vforged", None))
    for path in routes:
        for token in (None, "", forged, "garbage"):
            fields = {"id": "walk-0001", "text": "hi", "email": "v@example.com"}
            # Bodies refuse unknown fields (422 before the credential check): send each
            # route only what it takes.
            for unknown in NOT_TAKEN.get(path, ()):
                fields.pop(unknown)
            if token is not None:
                fields["token"] = token
            if path in FORM_ROUTES:
                file = {"file": ("a.txt", b"hello", "text/plain")}
                response = await client.post(path, data=fields, files=file)
            else:
                response = await client.post(path, content=json.dumps(fields))
            assert response.status_code in (401, 403), (path, token, response.text)
    # The widget's socket: closed at once without a valid token.
    for token in ("", forged):
        async with websockets.connect(f"ws://{live_server}/widget/ws?token={token}") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    await nothing_stored(runtime)


async def test_email_over_http_cannot_forge_a_trusted_sender(client, runtime, cast):
    """The old hole: a raw mail POSTed with no credential was stored as a trusted DMARC pass
    from any sender. The route now refuses e-mail outright, signed or not."""
    inbox = await make_inbox(runtime, "email")
    body = CHANNELS["email"]["body"].encode()
    for headers in ({}, {"X-Frontdesk-Signature": sign(inbox.secret, body)}):
        response = await client.post(
            f"/api/v1/inboxes/{inbox.id}/inbound", content=body, headers=headers
        )
        assert response.status_code == 401, response.text
    without_from = b"To: walk@frontdesk.test\r\nSubject: x\r\n\r\nno sender\r\n"
    response = await client.post(f"/api/v1/inboxes/{inbox.id}/inbound", content=without_from)
    assert response.status_code == 401  # was a 500
    await nothing_stored(runtime)
