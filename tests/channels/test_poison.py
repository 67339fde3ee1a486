"""The poison-message chaos test (issue 9, item 1). On every channel of the registry, one
poison message of each kind travels among 100 good ones, concurrently, so poison and good
share group-commit batches. The good ones are stored exactly once; each poison one is stored
with what could be read, quarantined, or refused for good (5xx over SMTP, 4xx over HTTP, an
error without retry on the widget); nothing gets a temporary answer, so nothing is retried
for ever. A channel added to the registry fails here until it has a driver."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiosmtplib
import pytest
import websockets
from sqlalchemy import func, select, text

import frontdesk.handlers  # noqa: F401  (imports every channel, which registers its adapter)
from frontdesk.channels import INSTALLED
from frontdesk.channels.email.imap import MailboxSync
from frontdesk.channels.email.models import Quarantined
from frontdesk.conversations.models import Message
from frontdesk.kit.jobs import Job
from frontdesk.runtime import Runtime
from tests.channels.email.conftest import create_email_inbox
from tests.channels.email.dovecot import PASSWORD
from tests.channels.email.mails import SUPPORT, mail, raw
from tests.channels.meta import conftest as meta
from tests.channels.sms import conftest as sms
from tests.channels.sms_gateway import conftest as sms_gateway
from tests.channels.telegram import conftest as telegram
from tests.channels.whatsapp import conftest as whatsapp
from tests.conftest import inbound_payload, post_inbound, run_jobs, serve_app
from tests.helpers import make_chat, visitor_token

GOOD = 100
# A database trigger refuses any message whose text holds this: a failure no rule of ours
# foresees, the same on every retry (what any future poison looks like to the pipeline).
REFUSED_BY_DB = "POISON-DB-REFUSES"
CONCURRENCY = 12
V = TypeVar("V")


@dataclass
class Fed:
    """What one channel answered: per message label, ok | refused | temporary."""

    outcomes: dict[str, str] = field(default_factory=dict)
    poisons: list[str] = field(default_factory=list)
    # IMAP: the UID the mailbox must have reached.
    checks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@dataclass
class Rig:
    """Every entry a driver may need: the app, the SMTP listener, Dovecot, a live server."""

    runtime: Runtime
    cast: Any
    client: Any
    live_server: str
    listener: Any
    dovecot: Any
    imap_user: str


Driver = Callable[[Rig], Awaitable[Fed]]


async def gather_limited(work: list[Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Awaitable[Any]) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in work))


# --- e-mail -------------------------------------------------------------------------------


def mail_poisons() -> dict[str, bytes]:
    """Mails that once stopped a mailbox (451 for ever over SMTP, a failing IMAP batch)."""

    def plain(
        label: str, *head: str | bytes, body: bytes | None = None, subject: bool = True
    ) -> bytes:
        lines = [*head, "To: " + SUPPORT, f"Message-ID: <{label}@poison.example>"]
        if subject:
            lines.append(f"Subject: {label}")
        return raw(*lines, body=body or f"{label} body\r\n".encode())

    multipart = (
        b"--b\r\nContent-Type: text/plain\r\n\r\npoison-nul-filename\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="a\x00b.pdf"'
        b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"%PDF-1.4")
        + b"\r\n--b--\r\n"
    )
    return {
        "poison-trailing-dot": plain("poison-trailing-dot", "From: someone@yahoo.com."),
        "poison-quoted-local": plain(
            "poison-quoted-local", 'From: "Millions Lottery Spain transfer"@example.com'
        ),
        "poison-dotless-domain": plain("poison-dotless-domain", "From: redacted@redacted"),
        "poison-space-in-address": plain("poison-space-in-address", "From: Test test@example.com"),
        "poison-nul-body": plain(
            "poison-nul-body", "From: a1@example.com", body=b"poison-nul-body \x00 here\r\n"
        ),
        "poison-nul-subject": plain(
            "poison-nul-subject",
            "From: a2@example.com",
            b"Subject: poison-nul-subject \x00 x",
            subject=False,
        ),
        "poison-nul-name": plain("poison-nul-name", b'From: "La\x00yla" <a3@example.com>'),
        "poison-nul-header": plain(
            "poison-nul-header", "From: a4@example.com", b"X-Trace: \x00\x00"
        ),
        "poison-nul-message-id": raw(
            "From: a5@example.com",
            "To: " + SUPPORT,
            "Subject: poison-nul-message-id",
            b"Message-ID: <poison\x00id@poison.example>",
            body=b"poison-nul-message-id\r\n",
        ),
        "poison-nul-filename": raw(
            "From: a6@example.com",
            "To: " + SUPPORT,
            "Subject: poison-nul-filename",
            "Message-ID: <poison-nul-filename@poison.example>",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="b"',
            body=multipart,
        ),
        "poison-8bit-subject": plain(
            "poison-8bit-subject",
            "From: a7@example.com",
            b"Subject: \xff\xfe\xed\xa0\x80",
            subject=False,
        ),
        "poison-long-name": plain("poison-long-name", f'From: "{"N" * 400}" <a8@example.com>'),
        "poison-db-refuses": plain(
            "poison-db-refuses",
            "From: a9@example.com",
            body=f"poison-db-refuses {REFUSED_BY_DB}\r\n".encode(),
        ),
        "poison-no-from": plain("poison-no-from"),
    }


def good_mails(channel: str) -> dict[str, bytes]:
    return {
        f"good {channel} {i}": mail(
            sender=f"customer{i % 20}@example.com",
            subject=f"good {channel} {i}",
            text=f"good {channel} {i}",
            message_id=f"<good-{channel}-{i}@example.com>",
        )
        for i in range(GOOD)
    }


def mixed(goods: dict[str, V], poisons: dict[str, V]) -> list[tuple[str, V]]:
    """The poisons spread evenly among the good ones."""
    items = list(goods.items())
    step = max(1, len(items) // (len(poisons) + 1))
    for n, pair in enumerate(poisons.items()):
        items.insert((n + 1) * step + n, pair)
    return items


async def feed_smtp(rig: Rig) -> Fed:
    runtime = rig.runtime
    await create_email_inbox(runtime)
    port = rig.listener.port
    poisons = mail_poisons()
    fed = Fed(poisons=list(poisons))

    async def send(n: int, label: str, data: bytes) -> None:
        try:
            await aiosmtplib.send(
                data,
                sender=f"relay{n}@example.net",
                recipients=[SUPPORT],
                hostname="127.0.0.1",
                port=port,
                start_tls=False,
                timeout=30,
            )
            fed.outcomes[label] = "ok"
        except aiosmtplib.SMTPResponseException as exc:
            fed.outcomes[label] = "temporary" if exc.code < 500 else "refused"

    items = mixed(good_mails("smtp"), poisons)
    await gather_limited([send(n, label, data) for n, (label, data) in enumerate(items)])
    # A relay resends what it is unsure of: a poison accepted once is accepted again, once.
    for n, label in enumerate(poisons):
        if fed.outcomes.get(label) == "ok":
            await send(n, label, poisons[label])
    return fed


async def feed_imap(rig: Rig) -> Fed:
    runtime = rig.runtime
    server = rig.dovecot
    user = rig.imap_user
    inbox = await create_email_inbox(
        runtime,
        name=f"IMAP {user}",
        address=f"{user}@frontdesk.test",
        imap={
            "host": "127.0.0.1",
            "port": server.port,
            "username": user,
            "password": PASSWORD,
            "security": "none",
            "timeout_seconds": 5,
        },
    )
    poisons = mail_poisons()
    items = mixed(good_mails("imap"), poisons)
    server.append(user, "INBOX", [data for _, data in items])
    sync = MailboxSync(runtime, inbox, owner="poison-test")
    fed = Fed(poisons=list(poisons))
    try:
        await sync.once()
    except Exception:
        outcome = "temporary"  # the sync failed: it would fail the same way on every poll
    else:
        outcome = "ok"
    fed.outcomes = {label: outcome for label, _ in items}

    async def uid_advanced() -> None:
        from frontdesk.channels.email.models import Mailbox

        async with runtime.db.session() as session:
            row = await session.scalar(select(Mailbox).where(Mailbox.inbox_id == inbox))
            await session.commit()
        assert row is not None and row.last_uid == len(items), "the UID did not move past all"
        # A second poll finds nothing new and fails on nothing.
        assert await sync.once() == 0

    fed.checks.append(uid_advanced)
    return fed


# --- API ---------------------------------------------------------------------------------


def api_poisons() -> dict[str, dict[str, Any]]:
    def payload(label: str, **extra: Any) -> dict[str, Any]:
        body = inbound_payload(label, f"{label}@example.com", label)
        body.update(extra)
        return body

    attachment = {"content_type": "text/plain", "data_base64": base64.b64encode(b"x").decode()}
    return {
        "poison-nul-text": payload("poison-nul-text", text="poison-nul-text \x00 x"),
        "poison-surrogate-text": payload(
            "poison-surrogate-text", text="poison-surrogate-text \ud800"
        ),
        "poison-nul-name": payload(
            "poison-nul-name", **{"from": {"address": "n@example.com", "name": "a\x00b"}}
        ),
        "poison-nul-external-id": payload("poison-nul-external-id", external_id="ext\x00id"),
        "poison-nul-thread": payload("poison-nul-thread", thread="thread\x00one"),
        "poison-nul-subject": payload("poison-nul-subject", subject="subject\x00x"),
        "poison-nul-html": payload("poison-nul-html", html="<p>poison-nul-html \x00</p>"),
        "poison-nul-filename": payload(
            "poison-nul-filename", attachments=[{**attachment, "filename": "a\x00b.txt"}]
        ),
        "poison-crlf-type": payload(
            "poison-crlf-type",
            attachments=[
                {**attachment, "filename": "x.txt", "content_type": "text/plain\r\nX-Evil: 1"}
            ],
        ),
        "poison-bad-address": {
            **payload("poison-bad-address"),
            "from": {"address": "redacted@redacted"},
        },
        "poison-db-refuses": payload(
            "poison-db-refuses", text=f"poison-db-refuses {REFUSED_BY_DB}"
        ),
    }


async def feed_api(rig: Rig) -> Fed:
    cast = rig.cast
    client = rig.client
    poisons = api_poisons()
    goods = {
        f"good api {i}": inbound_payload(
            f"good-{i}", f"customer{i % 20}@example.com", f"good api {i}"
        )
        for i in range(GOOD)
    }
    fed = Fed(poisons=list(poisons))

    async def post(label: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()  # ensure_ascii: NUL and surrogates as \u escapes
        response = await post_inbound(client, cast.website, body)
        status = response.status_code
        fed.outcomes[label] = (
            "ok" if status == 202 else "refused" if 400 <= status < 500 else "temporary"
        )

    items = mixed(goods, poisons)
    await gather_limited([post(label, payload) for label, payload in items])
    return fed


# --- webchat -----------------------------------------------------------------------------

WIDGET_POISONS = {
    "poison-nul-text": "poison-nul-text \x00 x",
    "poison-surrogate-text": "poison-surrogate-text \ud800",
    "poison-db-refuses": f"poison-db-refuses {REFUSED_BY_DB}",
}


async def feed_widget(rig: Rig) -> Fed:
    runtime, cast = rig.runtime, rig.cast
    client = rig.client
    address = rig.live_server
    chat = await make_chat(runtime, cast)
    fed = Fed(poisons=list(WIDGET_POISONS))
    goods = {f"good webchat {i}": f"good webchat {i}" for i in range(GOOD)}
    items = mixed(goods, WIDGET_POISONS)
    visitors = 10
    # A visitor whose name cannot be stored is refused when the chat starts (4xx), for good.
    response = await client.post(
        "/widget/api/session", content=json.dumps({"inbox_id": chat.id, "name": "a\x00b"})
    )
    fed.poisons.append("poison-nul-visitor-name")
    fed.outcomes["poison-nul-visitor-name"] = (
        "refused" if 400 <= response.status_code < 500 else "temporary"
    )

    async def visitor(number: int, share: list[tuple[str, str]]) -> None:
        token = await visitor_token(client, chat)
        async with websockets.connect(f"ws://{address}/widget/ws?token={token}") as ws:
            for n, (label, words) in enumerate(share):
                client_id = f"visitor{number:02d}-message{n:04d}"
                await ws.send(json.dumps({"type": "message", "id": client_id, "text": words}))
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    if frame.get("id") != client_id:
                        continue
                    if frame["type"] == "ack":
                        fed.outcomes[label] = "ok"
                    elif frame["type"] == "error":
                        fed.outcomes[label] = "temporary" if frame.get("retry") else "refused"
                    else:
                        continue
                    break

    await asyncio.gather(*(visitor(n, items[n::visitors]) for n in range(visitors)))
    return fed


# --- provider webhooks -------------------------------------------------------------------
# Each driver posts what the provider would post (signed with the inbox's real credential) to
# the channel's own webhook route. The poisons of every messaging channel: NUL and a lone
# surrogate in the text, NUL in the sender's display name where the payload carries one, a
# text the database refuses, and a structurally malformed event (no message id). JSON bodies
# go out with ensure_ascii, so NUL and the surrogate travel as \u escapes, as providers send.

SENDERS = 20


def text_poisons() -> dict[str, str]:
    """The texts of the poisons every messaging channel gets (label -> text)."""
    return {
        "poison-nul-text": "poison-nul-text \x00 x",
        "poison-surrogate-text": "poison-surrogate-text \ud800",
        "poison-db-refuses": f"poison-db-refuses {REFUSED_BY_DB}",
    }


async def feed_webhook(
    items: list[tuple[str, V]], poisons: list[str], post: Callable[[V], Awaitable[Any]]
) -> Fed:
    """Post every item concurrently: 2xx ok, 4xx refused, anything else temporary."""
    fed = Fed(poisons=poisons)

    async def one(label: str, item: V) -> None:
        status = (await post(item)).status_code
        fed.outcomes[label] = (
            "ok" if 200 <= status < 300 else "refused" if 400 <= status < 500 else "temporary"
        )

    await gather_limited([one(label, item) for label, item in items])
    return fed


def as_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()  # ensure_ascii: NUL and surrogates as \u escapes


async def feed_telegram(rig: Rig) -> Fed:
    api = telegram.FakeBotApi()
    async with serve_app(api.app) as address:
        api.address = address
        bot = await telegram.create_bot(rig.client, rig.runtime, rig.cast, api)

        def message(n: int, text: str, chat: int, **changes: Any) -> dict[str, Any]:
            return telegram.update(
                "message_text", update_id=n, message_id=n, text=text, chat_id=chat, **changes
            )

        goods = {
            f"good telegram {i}": message(i + 1, f"good telegram {i}", 7000 + i % SENDERS)
            for i in range(GOOD)
        }
        poisons = {
            label: message(1000 + n, words, 8000 + n)
            for n, (label, words) in enumerate(text_poisons().items())
        }
        poisons["poison-nul-name"] = message(1100, "poison-nul-name", 8100)
        poisons["poison-nul-name"]["message"]["from"]["first_name"] = "La\x00yla"
        poisons["poison-nul-name"]["message"]["chat"]["first_name"] = "La\x00yla"
        malformed = message(1200, "poison-no-message-id", 8200)
        del malformed["message"]["message_id"]
        poisons["poison-no-message-id"] = malformed

        async def post(payload: dict[str, Any]) -> Any:
            return await rig.client.post(bot.hook, content=as_json(payload), headers=bot.headers)

        return await feed_webhook(mixed(goods, poisons), list(poisons), post)


async def feed_whatsapp(rig: Rig) -> Fed:
    api = whatsapp.FakeGraphApi()
    async with serve_app(api.app) as address:
        api.address = address
        number = await whatsapp.create_number(rig.client, rig.runtime, rig.cast, api)

        def message(key: str, text: str, sender: str) -> dict[str, Any]:
            return whatsapp.notification(
                "text", id=f"wamid.{key}", text=text, sender=sender,
                timestamp=whatsapp.now_stamp(),
            )  # fmt: skip

        goods = {
            f"good whatsapp {i}": message(
                f"good{i}", f"good whatsapp {i}", f"9715010{i % SENDERS:05d}"
            )
            for i in range(GOOD)
        }
        poisons = {
            label: message(label, words, f"9715020{n:05d}")
            for n, (label, words) in enumerate(text_poisons().items())
        }
        named = message("poison-nul-name", "poison-nul-name", "971503000001")
        named["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = "La\x00yla"
        poisons["poison-nul-name"] = named
        malformed = message("poison-no-message-id", "poison-no-message-id", "971503000002")
        del malformed["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        poisons["poison-no-message-id"] = malformed

        async def post(payload: dict[str, Any]) -> Any:
            return await whatsapp.deliver(rig.client, number, as_json(payload))

        return await feed_webhook(mixed(goods, poisons), list(poisons), post)


async def feed_meta(rig: Rig, channel: str) -> Fed:
    """Messenger and Instagram: their events carry no display name (profiles are fetched, and
    not here: `fetch_profiles` is off)."""
    api = meta.FakeGraphApi()
    example = "message_text" if channel == "messenger" else "instagram_story_reply"
    async with serve_app(api.app) as address:
        api.address = address
        page = await meta.create_page(
            rig.client, rig.runtime, rig.cast, api, channel=channel, fetch_profiles=False
        )

        def message(key: str, text: str, sender: str) -> dict[str, Any]:
            data = meta.payload(example)
            item = meta.event(data)
            item["sender"]["id"] = sender
            item["message"] = {"mid": f"mid.{key}", "text": text}
            return data

        goods = {
            f"good {channel} {i}": message(
                f"good{i}", f"good {channel} {i}", f"6100{i % SENDERS:04d}"
            )
            for i in range(GOOD)
        }
        poisons = {
            label: message(label, words, f"6200{n:04d}")
            for n, (label, words) in enumerate(text_poisons().items())
        }
        malformed = message("poison-no-message-id", "poison-no-message-id", "62009999")
        del meta.event(malformed)["message"]["mid"]
        poisons["poison-no-message-id"] = malformed

        async def post(payload: dict[str, Any]) -> Any:
            return await page.deliver(rig.client, as_json(payload))

        return await feed_webhook(mixed(goods, poisons), list(poisons), post)


async def feed_messenger(rig: Rig) -> Fed:
    return await feed_meta(rig, "messenger")


async def feed_instagram(rig: Rig) -> Fed:
    return await feed_meta(rig, "instagram")


async def feed_sms(rig: Rig) -> Fed:
    """Twilio posts a form (no display name). A lone surrogate cannot be UTF-8: the closest a
    sender gets is its WTF-8 bytes (%ED%A0%80), which no signature can cover."""
    api = sms.FakeTwilio()
    async with serve_app(api.app) as address:
        api.address = address
        inbox = await sms.create_sms_inbox(rig.client, rig.runtime, rig.cast, api)

        def message(key: str, text: str, sender: str) -> dict[str, str]:
            sid = f"SM{key}"
            return sms.fixture(
                "incoming_sms", Body=text, From=sender, MessageSid=sid, SmsSid=sid,
                SmsMessageSid=sid,
            )  # fmt: skip

        goods = {
            f"good sms {i}": message(f"good{i}", f"good sms {i}", f"+9715010{i % SENDERS:05d}")
            for i in range(GOOD)
        }
        poisons = {
            label: message(label, words, f"+9715020{n:05d}")
            for n, (label, words) in enumerate(text_poisons().items())
        }
        malformed = message("poison-no-message-id", "poison-no-message-id", "+971503000002")
        for key in ("MessageSid", "SmsSid", "SmsMessageSid"):
            del malformed[key]
        poisons["poison-no-message-id"] = malformed

        async def post(params: dict[str, str]) -> Any:
            try:
                body, headers = inbox.signed(inbox.hook, params)
            except UnicodeEncodeError:  # the surrogate: sent as bytes, signed as read back
                body = urlencode(params, encoding="utf-8", errors="surrogatepass").encode()
                readable = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                            for k, v in params.items()}  # fmt: skip
                headers = inbox.signed(inbox.hook, readable)[1]
            return await rig.client.post(inbox.hook, content=body, headers=headers)

        return await feed_webhook(mixed(goods, poisons), list(poisons), post)


async def feed_sms_gateway(rig: Rig) -> Fed:
    """The operator's JSON as the inbox's field mapping reads it (no display name)."""
    gateway = sms_gateway.FakeGateway()
    async with serve_app(gateway.app) as address:
        gateway.address = address
        inbox = await sms_gateway.create_gateway_inbox(rig.client, rig.runtime, rig.cast, gateway)

        def message(key: str, text: str, sender: str) -> dict[str, Any]:
            data = sms_gateway.fixture("incoming")
            data["msg_id"] = f"gw-{key}"
            data["data"].update(sender=sender, message=text)
            return data

        goods = {
            f"good sms_gateway {i}": message(
                f"good{i}", f"good sms_gateway {i}", f"0912100{i % SENDERS:04d}"
            )
            for i in range(GOOD)
        }
        poisons = {
            label: message(label, words, f"0912200{n:04d}")
            for n, (label, words) in enumerate(text_poisons().items())
        }
        malformed = message("poison-no-message-id", "poison-no-message-id", "09123000002")
        del malformed["msg_id"]
        poisons["poison-no-message-id"] = malformed

        async def post(payload: dict[str, Any]) -> Any:
            body = as_json(payload)
            return await rig.client.post(inbox.hook, content=body, headers=inbox.headers(body))

        return await feed_webhook(mixed(goods, poisons), list(poisons), post)


DRIVERS: dict[str, list[Driver]] = {
    "api": [feed_api],
    "email": [feed_smtp, feed_imap],
    "webchat": [feed_widget],
    "telegram": [feed_telegram],
    "whatsapp": [feed_whatsapp],
    "messenger": [feed_messenger],
    "instagram": [feed_instagram],
    "sms": [feed_sms],
    "sms_gateway": [feed_sms_gateway],
}
# Channels whose messages carry no customer text, which this test counts by: each is proven
# against the same poisons by a test of its own, named here.
PROVEN_ELSEWHERE = {
    "voice": "tests/channels/voice/test_answering.py::TestWebhooks::"
    "test_poison_webhooks_are_refused_or_kept_and_never_block_the_good_ones",
    "cti": "tests/channels/cti/test_events.py::TestPoison::"
    "test_poison_events_are_refused_and_never_block_the_good_ones",
}


def cases() -> list[Any]:
    """A case per channel driver; a registered channel without a driver is a failing case."""
    found = []
    for channel in sorted(set(INSTALLED) - set(PROVEN_ELSEWHERE)):
        drivers: list[Driver | None] = [*DRIVERS.get(channel, [])] or [None]
        for driver in drivers:
            name = driver.__name__ if driver else "missing"
            found.append(pytest.param(channel, driver, id=f"{channel}-{name}"))
    return found


# --- the database refuses some messages --------------------------------------------------


@pytest.fixture
async def refusing_database(runtime: Runtime) -> AsyncIterator[None]:
    """A trigger that refuses to store a message whose text holds REFUSED_BY_DB."""
    postgres = runtime.db.engine.dialect.name == "postgresql"
    create = (
        [
            "CREATE OR REPLACE FUNCTION fd_test_refuse() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.text LIKE '%{REFUSED_BY_DB}%' THEN "
            "RAISE EXCEPTION 'refused by the test trigger' USING ERRCODE = '22023'; "
            "END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "DROP TRIGGER IF EXISTS fd_test_refuse ON messages",
            "CREATE TRIGGER fd_test_refuse BEFORE INSERT ON messages "
            "FOR EACH ROW EXECUTE FUNCTION fd_test_refuse()",
        ]
        if postgres
        else [
            "CREATE TRIGGER fd_test_refuse BEFORE INSERT ON messages "
            f"WHEN NEW.text LIKE '%{REFUSED_BY_DB}%' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
        ]
    )
    async with runtime.db.session() as session:
        for statement in create:
            await session.execute(text(statement))
        await session.commit()
    yield
    async with runtime.db.session() as session:
        await session.execute(
            text("DROP TRIGGER IF EXISTS fd_test_refuse" + (" ON messages" if postgres else ""))
        )
        if postgres:
            await session.execute(text("DROP FUNCTION IF EXISTS fd_test_refuse()"))
        await session.commit()


async def stored_texts(runtime: Runtime) -> dict[str, int]:
    async with runtime.db.session() as session:
        rows = (
            await session.execute(select(Message.text, func.count()).group_by(Message.text))
        ).all()
        await session.commit()
    return {row[0]: int(row[1]) for row in rows}


async def quarantined(runtime: Runtime) -> int:
    async with runtime.db.session() as session:
        value = int(await session.scalar(select(func.count()).select_from(Quarantined)) or 0)
        await session.commit()
    return value


def test_every_registered_channel_has_a_poison_driver() -> None:
    assert sorted([*DRIVERS, *PROVEN_ELSEWHERE]) == sorted(INSTALLED), (
        "a channel without a driver here is not proven safe against poison messages"
    )


@pytest.mark.parametrize(("channel", "driver"), cases())
async def test_poison_messages_never_block_a_channel(
    channel,
    driver,
    runtime,
    cast,
    client,
    live_server,
    listener,
    dovecot,
    imap_user,
    refusing_database,
):
    if driver is None:
        pytest.fail(f"channel {channel!r} has no poison driver: add one to DRIVERS")
    rig = Rig(runtime, cast, client, live_server, listener, dovecot, imap_user)
    fed = await driver(rig)
    temporary = sorted(label for label, outcome in fed.outcomes.items() if outcome == "temporary")
    assert temporary == [], "answered as temporary failures (retried for ever)"
    texts = await stored_texts(runtime)
    goods = {t: n for t, n in texts.items() if t.startswith("good ")}
    assert len(goods) == GOOD and set(goods.values()) == {1}, "good messages lost or doubled"
    stored = [p for p in fed.poisons if sum(n for t, n in texts.items() if p in t) == 1]
    doubled = [p for p in fed.poisons if sum(n for t, n in texts.items() if p in t) > 1]
    refused = [p for p in fed.poisons if fed.outcomes.get(p) == "refused"]
    assert doubled == []
    assert len(stored) + len(refused) + await quarantined(runtime) == len(fed.poisons), (
        stored,
        refused,
    )
    for check in fed.checks:
        await check()
    # What the stored messages set off (jobs) runs through, none of it failing.
    await run_jobs(runtime)
    async with runtime.db.session() as session:
        failing = (await session.scalars(select(Job).where(Job.last_error.is_not(None)))).all()
        await session.commit()
    assert [(job.kind, job.last_error) for job in failing] == []
