"""Channels benchmark: every provider's signed webhooks in, and agent replies out.

Inbound: per channel (api as the baseline, sms, sms_gateway, whatsapp, telegram, messenger,
instagram), N webhooks signed exactly as the provider signs them, C concurrent keep-alive
clients, against `frontdesk serve`: 80 % messages and 20 % status notices (Telegram has no
delivery statuses: its notices are edits; the API channel has none, so it takes messages
only), 10 % of all of them delivered twice. Prints the rate, ack p50/p99, the ratio to the API
channel measured in the same run, and an exactly-once check of the stored messages.

Outbound: R agent replies spread over the channels' conversations, sent by one
`frontdesk worker` process to fake providers (one loopback HTTP server in this process that
checks each provider's auth and answers at once). Two measurements:
- backlog: the replies are queued while no worker runs, then one worker starts: deliveries/s
  from its first provider call to its last (what one worker process can do);
- live: the worker runs while agents reply (C at a time): p99 from "reply accepted" (the API's
  201) to the provider's call.

Usage: python bench/channels.py [--n 5000] [--c 32] [--replies 5000]
       [--database-url postgresql+psycopg://...]   (default: a fresh SQLite file)
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/channels.py` puts bench/ first on the path, where email.py would shadow the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import psycopg
from sqlalchemy import func, select

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate
from frontdesk.channels.sms.adapter import signature as twilio_signature
from frontdesk.config import Settings
from frontdesk.conversations.models import Conversation, Message
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.port import webhook_url
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.kit.security import sign
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

PG_SERVER = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
CHANNELS = ("api", "sms", "sms_gateway", "whatsapp", "telegram", "messenger", "instagram")
TEXT = "Hello, my parcel has not arrived yet and the tracking page shows no update."
SENDERS = 200  # distinct customers per channel (the replies go to their conversations)
TWILIO_SID = "AC" + "b" * 32
TWILIO_TOKEN = "c" * 32
GATEWAY_SECRET = "gateway-secret-" + "d" * 16
APP_SECRET = "meta-app-secret-" + "e" * 16
GRAPH_TOKEN = "graph-token-" + "f" * 20
BOT_TOKEN = "123456:bench-bot-token"
BOT_SECRET = "telegram-secret-" + "a" * 16
PHONE_NUMBER_ID = "106540352242922"
PAGE_ID = "1234567890"
IG_ID = "17841400000000000"
MARKER = re.compile(rb"zq(\d+)qz")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- fake providers -------------------------------------------------------------------------


@dataclass
class Fakes:
    """One loopback HTTP/1.1 server standing in for every provider: it checks each one's
    auth as the provider does, answers at once in its format, and notes when each reply
    (found by the marker in its text) arrived."""

    api_secret: str = ""
    arrivals: dict[int, float] = field(default_factory=dict)
    calls: int = 0
    refused: int = 0
    duplicates: int = 0

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        self.calls += 1
        ok, answer = self._answer(path, headers, body)
        if not ok:
            self.refused += 1
            return response(401, {"error": {"message": "bad auth", "code": 190}})
        if (found := MARKER.search(body)) is not None:
            number = int(found.group(1))
            if number in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[number] = time.perf_counter()
        return answer

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[bool, bytes]:
        token = secrets.token_hex(8)
        if path == "/hook/api":
            ok = hmac.compare_digest(
                sign(self.api_secret, body), headers.get("x-frontdesk-signature", "")
            )
            return ok, response(200, {"ok": True}, {"x-message-id": f"api-{token}"})
        if path.startswith("/twilio/"):
            basic = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
            ok = headers.get("authorization") == f"Basic {basic}" and TWILIO_SID in path
            form = dict(parse_qsl(body.decode()))
            ok = ok and bool(form.get("To")) and bool(form.get("Body"))
            return ok, response(201, {"sid": f"SM{token}", "status": "queued"})
        if path == "/gateway/send":
            digest = hmac.new(GATEWAY_SECRET.encode(), body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(digest, headers.get("x-signature", ""))
            return ok, response(200, {"id": f"gw-{token}"})
        if path.startswith("/tg/"):
            ok = path.startswith(f"/tg/bot{BOT_TOKEN}/send")
            chat = json.loads(body).get("chat_id", 0) if ok else 0
            result = {"message_id": int(token[:6], 16), "date": int(time.time()),
                      "chat": {"id": int(chat), "type": "private"}}  # fmt: skip
            return ok, response(200, {"ok": True, "result": result})
        if path.startswith(("/graph/", "/meta/")):
            ok = headers.get("authorization") == f"Bearer {GRAPH_TOKEN}"
            payload = json.loads(body) if ok else {}
            if path.startswith("/graph/"):
                if payload.get("status") == "read":
                    return ok, response(200, {"success": True})
                ok = ok and payload.get("messaging_product") == "whatsapp"
                return ok, response(200, {"messaging_product": "whatsapp",
                                          "messages": [{"id": f"wamid.{token}"}]})  # fmt: skip
            recipient = (payload.get("recipient") or {}).get("id")
            return ok, response(200, {"recipient_id": recipient, "message_id": f"mid.{token}"})
        return False, b""


def response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> bytes:
    data = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}"
        f"content-length: {len(data)}\r\n\r\n"
    ).encode() + data


async def serve_fakes(fakes: Fakes, port: int) -> asyncio.Server:
    """Bare asyncio streams (no framework): the fakes share the 2 cores with what they time."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                method, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                writer.write(fakes.route(method, path.split("?")[0], headers, body))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the bench is ending: a kept-alive connection closes
            pass
        finally:
            writer.close()

    return await asyncio.start_server(connection, "127.0.0.1", port, backlog=1024)


# --- inboxes and webhooks -------------------------------------------------------------------


def inbox_settings(channel: str, fakes_url: str) -> dict[str, Any]:
    graph = {"page_access_token": GRAPH_TOKEN, "app_secret": APP_SECRET,
             "api_base_url": f"{fakes_url}/meta", "fetch_profiles": False}  # fmt: skip
    return {
        "api": {},  # its webhook_url is a field of its own (InboxCreate.webhook_url)
        "sms": {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN,
                "from_number": "+14155550100", "default_region": "AE",
                "api_base_url": f"{fakes_url}/twilio"},
        "sms_gateway": {"outbound_url": f"{fakes_url}/gateway/send", "secret": GATEWAY_SECRET,
                        "from_number": "30001234", "default_region": "IR"},
        "whatsapp": {"phone_number_id": PHONE_NUMBER_ID, "access_token": GRAPH_TOKEN,
                     "app_secret": APP_SECRET, "api_base_url": f"{fakes_url}/graph"},
        "telegram": {"bot_token": BOT_TOKEN, "secret_token": BOT_SECRET,
                     "api_base_url": f"{fakes_url}/tg"},
        "messenger": {**graph, "page_id": PAGE_ID},
        "instagram": {**graph, "page_id": IG_ID},
    }[channel]  # fmt: skip


@dataclass
class Hook:
    path: str
    body: bytes
    headers: dict[str, str]
    # The message's external id (None for a status notice): what the exactly-once check counts.
    message: str | None


def json_hook(path: str, payload: Any, headers: dict[str, str], message: str | None) -> Hook:
    body = json.dumps(payload).encode()
    return Hook(path, body, {"content-type": "application/json", **headers}, message)


def meta_signed(payload: Any, path: str, message: str | None) -> Hook:
    body = json.dumps(payload).encode()
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return Hook(path, body, {"content-type": "application/json",
                             "x-hub-signature-256": f"sha256={digest}"}, message)  # fmt: skip


def webhook(channel: str, i: int, status: bool, *, path: str, base: str, secret: str) -> Hook:
    """The i-th webhook of a channel, built from the provider's documented format."""
    who = i % SENDERS
    stamp = int(time.time())
    if channel == "api":
        payload = {"external_id": f"bench-{i}", "text": TEXT,
                   "from": {"address": f"customer{who}@example.com"}}  # fmt: skip
        body = json.dumps(payload).encode()
        signed = {"content-type": "application/json", "x-frontdesk-signature": sign(secret, body)}
        return Hook(path, body, signed, f"bench-{i}")
    if channel == "sms":
        params = (
            {"MessageSid": f"SMst{i:030d}", "MessageStatus": "delivered",
             "AccountSid": TWILIO_SID, "To": f"+97150{who:07d}", "From": "+14155550100"}
            if status else
            {"MessageSid": f"SM{i:032d}", "SmsSid": f"SM{i:032d}", "AccountSid": TWILIO_SID,
             "From": f"+97150{who:07d}", "To": "+14155550100", "Body": TEXT, "NumMedia": "0"}
        )  # fmt: skip
        target = path + "/status" if status else path
        body = urlencode(params).encode()
        sig = twilio_signature(TWILIO_TOKEN, base + target, params.items())
        headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sig}
        return Hook(target, body, headers, None if status else f"SM{i:032d}")
    if channel == "sms_gateway":
        payload = (
            {"id": f"gw-st-{i}", "status": "delivrd"} if status
            else {"id": f"gw-{i}", "from": f"0912{who:07d}", "text": TEXT}
        )  # fmt: skip
        body = json.dumps(payload).encode()
        digest = hmac.new(GATEWAY_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"content-type": "application/json", "x-signature": digest}
        return Hook(path + "/status" if status else path, body, headers,
                    None if status else f"gw-{i}")  # fmt: skip
    if channel == "whatsapp":
        wa_id = f"9715{who:08d}"
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        }
        if status:
            value["statuses"] = [{"id": f"wamid.st{i}", "status": "delivered",
                                  "timestamp": str(stamp), "recipient_id": wa_id}]  # fmt: skip
        else:
            value["contacts"] = [{"profile": {"name": f"Customer {who}"}, "wa_id": wa_id}]
            value["messages"] = [{"from": wa_id, "id": f"wamid.in{i}", "timestamp": str(stamp),
                                  "type": "text", "text": {"body": TEXT}}]  # fmt: skip
        payload = {"object": "whatsapp_business_account",
                   "entry": [{"id": "102290129340398",
                              "changes": [{"value": value, "field": "messages"}]}]}  # fmt: skip
        return meta_signed(payload, path, None if status else f"wamid.in{i}")
    if channel == "telegram":
        chat = 5_000_000 + who
        user = {"id": chat, "is_bot": False, "first_name": f"Customer{who}"}
        kind = "edited_message" if status else "message"
        message = {"message_id": i, "date": stamp, "chat": {"id": chat, "type": "private"},
                   "from": user, "text": TEXT}  # fmt: skip
        if status:  # Telegram reports edits, not deliveries: an edit of an earlier message
            message.update(message_id=max(i - 50, 0), edit_date=stamp, text=TEXT + " (edited)")
        payload = {"update_id": 100_000 + i, kind: message}
        headers = {"x-telegram-bot-api-secret-token": BOT_SECRET}
        return json_hook(path, payload, headers, None if status else f"{chat}:{i}")
    page = PAGE_ID if channel == "messenger" else IG_ID
    psid = f"{7_000_000 + who}"
    if status:
        receipt = {"mids": [f"mid.st{i}"], "watermark": stamp * 1000}
        item: dict[str, Any] = {"sender": {"id": psid}, "recipient": {"id": page},
                                "delivery": receipt}  # fmt: skip
        if channel == "instagram":  # Instagram reports reads (no delivery receipts)
            item = {"sender": {"id": psid}, "recipient": {"id": page},
                    "timestamp": stamp * 1000, "read": {"mid": f"mid.st{i}"}}  # fmt: skip
    else:
        item = {"sender": {"id": psid}, "recipient": {"id": page}, "timestamp": stamp * 1000,
                "message": {"mid": f"mid.in{i}", "text": TEXT}}  # fmt: skip
    payload = {"object": "page" if channel == "messenger" else "instagram",
               "entry": [{"id": page, "time": stamp * 1000, "messaging": [item]}]}  # fmt: skip
    return meta_signed(payload, path, None if status else f"mid.in{i}")


def plan(channel: str, n: int, *, path: str, base: str, secret: str) -> list[Hook]:
    """n webhooks: 80 % messages, 20 % statuses (the API channel: messages only), and 10 % of
    them delivered twice (the copy right after a few others, as a provider retry comes)."""
    hooks = []
    for i in range(n):
        status = channel != "api" and i % 5 == 4
        hooks.append(webhook(channel, i, status, path=path, base=base, secret=secret))
    repeated = list(hooks)
    for k in range(0, n, 10):  # every tenth one again, 7 places later
        repeated.insert(min(len(repeated), k + k // 10 + 7), hooks[k])
    return repeated


async def post_all(port: int, hooks: list[Hook], c: int) -> tuple[float, list[float], int]:
    """C keep-alive HTTP/1.1 connections written with bare asyncio streams."""
    latencies: list[float] = []
    errors = 0
    queue = iter(hooks)

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for hook in queue:
                head = "".join(f"{k}: {v}\r\n" for k, v in hook.headers.items())
                started = time.perf_counter()
                writer.write(
                    f"POST {hook.path} HTTP/1.1\r\nHost: bench\r\n{head}"
                    f"Content-Length: {len(hook.body)}\r\n\r\n".encode()
                    + hook.body
                )
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not status_line.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                    errors += 1
                    if errors <= 3:
                        print(f"  ! {hook.path}: {status_line!r} {answer[:200]!r}", flush=True)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(c)))
    return len(hooks) / (time.perf_counter() - started), latencies, errors


# --- setup ----------------------------------------------------------------------------------


def fresh_database(url: str | None, workdir: Path) -> str:
    if url is None:
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    # FRONTDESK_BENCH_DB_PREFIX names the database after whoever runs it (a shared server).
    prefix = os.environ.get("FRONTDESK_BENCH_DB_PREFIX", "frontdesk_bench_channels")
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{url.rstrip('/').rsplit('/', 1)[0]}/{name}"


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Setup:
    token: str
    inboxes: dict[str, tuple[int, str, str]]  # channel -> (id, webhook path, inbox secret)


async def prepare(settings: Settings, fakes_url: str) -> Setup:
    runtime = Runtime.build(settings, with_runner=False)
    try:
        async with runtime.db.session() as session:
            admin = await auth.create_agent(
                session,
                AgentCreate(email="bench@frontdesk.test", name="Bench",
                            password="bench-pass-1", role="admin"),
            )  # fmt: skip
            made = {}
            for channel in (*CHANNELS, "warm"):
                kind = "api" if channel == "warm" else channel
                data = InboxCreate(
                    channel=kind,
                    name=channel,
                    settings=inbox_settings(kind, fakes_url),
                    webhook_url=f"{fakes_url}/hook/api" if kind == "api" else None,
                )
                inbox = await inboxes.create_inbox(session, data, settings)
                hook = webhook_url(inbox, settings) or f"/api/v1/inboxes/{inbox.id}/inbound"
                made[channel] = (inbox.id, hook.removeprefix(settings.base_url.rstrip("/")),
                                 inbox.secret)  # fmt: skip
            token = await auth.issue_token(session, admin)
            await uow.commit(session)
        return Setup(token, made)
    finally:
        await runtime.db.dispose()


async def stored(settings: Settings, inbox_id: int) -> tuple[int, int]:
    """(inbound messages stored, distinct external ids among them) of one inbox: a read-only
    transaction (on SQLite it does not queue for the write lock, which the server, busy with
    the jobs the burst queued, hands from one of its writers to the next)."""
    runtime = Runtime.build(settings, with_runner=False)
    try:
        async with runtime.db.session(read_only=True) as session:
            row = (
                await session.execute(
                    select(func.count(), func.count(func.distinct(Message.external_id))).where(
                        Message.inbox_id == inbox_id, Message.direction == "inbound"
                    )
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        await runtime.db.dispose()


async def conversations(settings: Settings, *, skip: int) -> list[int]:
    runtime = Runtime.build(settings, with_runner=False)
    try:
        async with runtime.db.session(read_only=True) as session:
            rows = await session.execute(select(Conversation.id, Conversation.inbox_id))
            by_inbox: dict[int, list[int]] = {}
            for conversation_id, inbox_id in rows.all():
                if inbox_id != skip:
                    by_inbox.setdefault(inbox_id, []).append(conversation_id)
        # Interleaved: consecutive replies go to different channels.
        lanes = list(by_inbox.values())
        return [lane[k] for k in range(max(map(len, lanes))) for lane in lanes if k < len(lane)]
    finally:
        await runtime.db.dispose()


async def queued(settings: Settings) -> int:
    from frontdesk.kit.jobs import AVAILABLE, RUNNING, Job

    runtime = Runtime.build(settings, with_runner=False)
    try:  # read-only, as `stored`: it does not queue for the busy server's write lock
        async with runtime.db.session(read_only=True) as session:
            return int(
                await session.scalar(
                    select(func.count()).where(Job.state.in_((AVAILABLE, RUNNING)))
                )
                or 0
            )
    finally:
        await runtime.db.dispose()


# --- the run --------------------------------------------------------------------------------


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A frontdesk process; its log goes to <data dir>/<command>.log."""
    log = Path(env["FRONTDESK_DATA_DIR"]) / f"{args[0]}.log"
    profile = os.environ.get("FRONTDESK_BENCH_PROFILE")  # a directory: cProfile each process
    python = [sys.executable]
    if profile:
        python += ["-m", "cProfile", "-o", f"{profile}/{args[0]}-{time.time():.0f}.prof"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*python, "-m", "frontdesk", *args], env=env,
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(60)


async def reply_all(
    port: int, token: str, targets: list[int], first: int, count: int, c: int
) -> dict[int, float]:
    """Agent replies through the API, C at a time: {reply number: when the API accepted it}."""
    accepted: dict[int, float] = {}
    refused: list[str] = []
    numbers = iter(range(first, first + count))

    async def agent() -> None:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"authorization": f"Bearer {token}"}, timeout=60,
        ) as client:  # fmt: skip
            for number in numbers:
                conversation = targets[(number - first) % len(targets)]
                answer = await client.post(
                    f"/api/v1/conversations/{conversation}/messages",
                    json={"text": f"Thanks, we are on it (ref zq{number}qz)."},
                )
                if answer.status_code != 201:  # counted (not delivered, not timed), reported
                    refused.append(f"{answer.status_code} {answer.text[:200]}")
                    continue
                accepted[number] = time.perf_counter()

    await asyncio.gather(*(agent() for _ in range(c)))
    if refused:
        print(f"  ! {len(refused)} replies refused by the API, e.g. {refused[0]}", flush=True)
    return accepted


async def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@dataclass
class Deployment:
    """SQLite: one `frontdesk serve` that also runs the jobs (the embedded setup; SQLite takes
    one writing process). PostgreSQL: `frontdesk serve` without jobs plus one
    `frontdesk worker` (the scale-out setup). `jobs` is the process that delivers."""

    env: dict[str, str]
    port: int
    sqlite: bool
    server: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start_server(self) -> None:
        env = {**self.env, "FRONTDESK_EMBEDDED_WORKER": "true" if self.sqlite else "false"}
        self.server = spawn(["serve", "--port", str(self.port)], env)
        for _ in range(600):
            try:
                if httpx.get(f"{self.base}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("frontdesk serve did not start")

    async def start_jobs(self) -> None:
        if self.sqlite:
            await self.start_server()
        else:
            self.worker = spawn(["worker"], self.env)

    def stop_jobs(self) -> None:
        if self.sqlite and self.server is not None:
            stop(self.server)
            self.server = None
        elif self.worker is not None:
            stop(self.worker)
            self.worker = None

    def stop_all(self) -> None:
        for process in (self.worker, self.server):
            if process is not None:
                stop(process)
        self.server = self.worker = None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the process that runs the jobs has used so far."""
        return process_cpu(self.server if self.sqlite else self.worker)

    def serve_cpu_seconds(self) -> float:
        """CPU time (user + system) the `frontdesk serve` process has used so far."""
        return process_cpu(self.server)

    def describe(self) -> str:
        if self.sqlite:
            return "sqlite; 1 `frontdesk serve` process running the jobs too (embedded)"
        return "postgresql; 1 `frontdesk serve` process + 1 `frontdesk worker` process"


def process_cpu(process: subprocess.Popen[bytes] | None) -> float:
    if process is None:
        return 0.0
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fd-bench-channels-"))
    url = fresh_database(args.database_url, workdir)
    fakes = Fakes()
    fake_port, port = free_port(), free_port()
    fakes_server = await serve_fakes(fakes, fake_port)
    base = f"http://127.0.0.1:{port}"
    deployment: Deployment | None = None
    try:
        upgrade(url)
        settings = Settings(
            env="development", data_dir=workdir, database_url=url, base_url=base,
            allow_private_webhooks=True, secret_key=secrets.token_hex(32),
        )  # fmt: skip
        setup = await prepare(settings, f"http://127.0.0.1:{fake_port}")
        fakes.api_secret = setup.inboxes["api"][2]
        env = dict(os.environ)
        env.update(
            FRONTDESK_DATABASE_URL=url, FRONTDESK_DATA_DIR=str(workdir), FRONTDESK_BASE_URL=base,
            FRONTDESK_SECRET_KEY=settings.secret_key, FRONTDESK_BUS_PREFIX=f"bench{os.getpid()}",
            FRONTDESK_ALLOW_PRIVATE_WEBHOOKS="true",
        )  # fmt: skip
        deployment = Deployment(env, port, sqlite=url.startswith("sqlite"))
        print(f"channels: n={args.n} c={args.c} replies={args.replies} cpus={os.cpu_count()}; "
              f"{deployment.describe()}")  # fmt: skip
        await deployment.start_server()
        if not deployment.sqlite:
            await deployment.start_jobs()
        if args.only in ("both", "inbound"):
            await inbound(args, setup, settings, deployment, base)
        else:  # conversations to reply in: one message from each sender, not measured
            for channel in CHANNELS:
                _, path, secret = setup.inboxes[channel]
                hooks = [webhook(channel, i, False, path=path, base=base, secret=secret)
                         for i in range(SENDERS)]  # fmt: skip
                await post_all(port, hooks, args.c)
        if not await wait_for_jobs(settings, 600):
            print("  ! the inbound jobs did not drain in 600 s")
        if args.only in ("both", "outbound"):
            await outbound(args, setup, settings, deployment, fakes)
    finally:
        if deployment is not None:
            deployment.stop_all()
        fakes_server.close()
        drop_database(url)
        print(f"(logs in {workdir})")


async def wait_for_jobs(settings: Settings, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while await queued(settings):
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.5)
    return True


async def inbound(
    args: argparse.Namespace, setup: Setup, settings: Settings, deployment: Deployment, base: str
) -> None:
    """Per channel also the CPU the `frontdesk serve` process spent per webhook while it
    took them (what the ack costs, the figure that survives a loaded machine; on SQLite the
    same process runs the jobs, whose share of that time is counted in too). Then how long
    the jobs the webhooks queued took to drain after the last one (background kinds give way
    to requests while they come, kit.pressure), and the CPU of the process that ran them over
    the whole phase, drain included, per webhook."""
    port = deployment.port
    # A warm-up on an API inbox of its own (not counted): the baseline must not run cold.
    _, warm_path, warm_secret = setup.inboxes["warm"]
    await post_all(port, plan("api", 300, path=warm_path, base=base, secret=warm_secret), args.c)
    print(f"inbound  (load {load()})")
    baseline = 0.0
    jobs_cpu_before, sent = deployment.cpu_seconds(), 0
    for channel in CHANNELS:
        inbox_id, path, secret = setup.inboxes[channel]
        hooks = plan(channel, args.n, path=path, base=base, secret=secret)
        cpu_before = deployment.serve_cpu_seconds()
        rate, latencies, errors = await post_all(port, hooks, args.c)
        cpu_ms = (deployment.serve_cpu_seconds() - cpu_before) / len(hooks) * 1000
        sent += len(hooks)
        baseline = baseline or rate
        expected = {hook.message for hook in hooks if hook.message}
        count, distinct = await stored(settings, inbox_id)
        lost, duplicated = max(len(expected) - distinct, 0), count - distinct
        p50 = statistics.median(latencies) * 1000
        print(
            f"  {channel:<11} {rate:7.1f} webhooks/s  ack p50 {p50:6.1f} ms"
            f"  p99 {percentile(latencies, 0.99) * 1000:6.1f} ms  vs api {rate / baseline:6.1%}"
            f"  serve CPU {cpu_ms:5.2f} ms/webhook"
            f"  stored {count}/{len(expected)} lost {lost} duplicated {duplicated}"
            f" errors {errors}  (load {load()})",
            flush=True,
        )
    ended = time.perf_counter()
    drained = await wait_for_jobs(settings, 600)
    jobs_ms = (deployment.cpu_seconds() - jobs_cpu_before) / sent * 1000
    print(
        f"  jobs: {'drained' if drained else 'NOT drained'} {time.perf_counter() - ended:.1f} s"
        f" after the last webhook; the {'serve' if deployment.sqlite else 'worker'} process's"
        f" CPU over the channels and the drain {jobs_ms:.2f} ms/webhook  (load {load()})",
        flush=True,
    )


async def outbound(
    args: argparse.Namespace,
    setup: Setup,
    settings: Settings,
    deployment: Deployment,
    fakes: Fakes,
) -> None:
    targets = await conversations(settings, skip=setup.inboxes["warm"][0])
    print(f"outbound: {args.replies} replies over {len(targets)} conversations "
          f"of {len(CHANNELS)} channels  (load {load()})")  # fmt: skip
    # Backlog: queued while nothing runs jobs, then one process drains them.
    deployment.stop_jobs()
    await queue_replies(settings, targets, args.replies)
    await deployment.start_jobs()
    # CPU counted from the first delivery on: the process's start-up (imports) is not delivery.
    await wait_for(lambda: len(fakes.arrivals) > 0, 300)
    cpu_before, counted_from = deployment.cpu_seconds(), len(fakes.arrivals)
    if not await wait_for(lambda: len(fakes.arrivals) >= args.replies, 900):
        print(f"  ! only {len(fakes.arrivals)} of {args.replies} replies reached the providers")
    cpu = deployment.cpu_seconds() - cpu_before
    times = sorted(fakes.arrivals.values())
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")
    per_cpu = (len(times) - counted_from) / cpu if cpu else float("nan")
    print(f"  backlog: {len(times)} deliveries by 1 process at {rate:7.1f}/s "
          f"(first to last provider call); its CPU meanwhile {cpu:.1f} s = "
          f"{per_cpu:.0f} deliveries per CPU-second  (load {load()})", flush=True)  # fmt: skip
    # Live: agents reply through the API while the jobs run.
    first = args.replies
    accepted = await reply_all(deployment.port, setup.token, targets, first, args.replies, args.c)
    expected = set(accepted)
    await wait_for(lambda: expected <= set(fakes.arrivals), 900)
    waits = [fakes.arrivals[k] - accepted[k] for k in expected if k in fakes.arrivals]
    span = max(accepted.values()) - min(accepted.values())
    p50 = statistics.median(waits) * 1000
    print(f"  live:    {len(waits)}/{len(expected)} delivered, replies accepted at "
          f"{len(expected) / span:6.1f}/s; reply->provider p50 {p50:6.1f} ms "
          f"p99 {percentile(waits, 0.99) * 1000:6.1f} ms  (load {load()})")  # fmt: skip
    print(f"  providers: {fakes.calls} calls, {fakes.refused} refused (auth), "
          f"{fakes.duplicates} replies delivered twice")  # fmt: skip
    if trace := os.environ.get("FRONTDESK_BENCH_TRACE"):
        await write_trace(Path(trace), settings, accepted, fakes.arrivals)


async def write_trace(
    path: Path, settings: Settings, accepted: dict[int, float], arrivals: dict[int, float]
) -> None:
    """FRONTDESK_BENCH_TRACE=<file>: every job (kind, created, claimed, finished) and, per
    live reply, its message id, API acceptance and provider receipt, on one wall clock."""
    from frontdesk.kit.jobs import Job

    offset = time.time() - time.perf_counter()  # perf_counter -> wall clock (epoch seconds)
    runtime = Runtime.build(settings, with_runner=False)
    try:
        async with runtime.db.session() as session:
            jobs = (await session.execute(select(
                Job.id, Job.kind, Job.payload, Job.created_at, Job.run_at, Job.locked_until,
                Job.finished_at, Job.attempts, Job.state))).all()  # fmt: skip
            replies = (await session.execute(select(Message.id, Message.text).where(
                Message.direction == "outbound"))).all()  # fmt: skip
    finally:
        await runtime.db.dispose()
    numbers = {}
    for message_id, text in replies:
        if found := re.search(r"zq(\d+)qz", text or ""):
            numbers[int(found.group(1))] = message_id

    def stamp(value: Any) -> float | None:
        return value.timestamp() if value is not None else None

    path.write_text(json.dumps({
        "lease": settings.job_lease_seconds,
        "jobs": [[j.id, j.kind, j.payload, stamp(j.created_at), stamp(j.run_at),
                  stamp(j.locked_until), stamp(j.finished_at), j.attempts, j.state]
                 for j in jobs],
        "replies": {n: [numbers.get(n), accepted.get(n, 0) + offset if n in accepted else None,
                        arrivals[n] + offset if n in arrivals else None]
                    for n in set(accepted) | set(arrivals)},
    }))  # fmt: skip


async def queue_replies(settings: Settings, targets: list[int], count: int) -> None:
    """`count` agent replies queued as `reply` queues them (message + deliver job), straight
    into the database, numbered 0..count-1."""
    from frontdesk.auth.models import Agent
    from frontdesk.conversations import service as conversations_service
    from frontdesk.conversations.schemas import ReplyCreate

    runtime = Runtime.build(settings, with_runner=False)
    try:
        for start in range(0, count, 250):
            async with runtime.db.session() as session:
                agent = await session.scalar(select(Agent).where(Agent.role == "admin"))
                for number in range(start, min(start + 250, count)):
                    conversation = await session.get(Conversation, targets[number % len(targets)])
                    assert conversation is not None
                    await conversations_service.reply(
                        session, conversation, author=agent,
                        data=ReplyCreate(text=f"Thanks, we are on it (ref zq{number}qz)."),
                    )  # fmt: skip
                await uow.commit(session)
    finally:
        await runtime.db.dispose()


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="webhooks per channel")
    parser.add_argument("--c", type=int, default=32, help="concurrent clients")
    parser.add_argument("--replies", type=int, default=5000, help="agent replies per phase")
    parser.add_argument("--only", choices=("both", "inbound", "outbound"), default="both")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL URL (postgresql+psycopg://user@host:port/any): a fresh database "
        "is made beside it; default: a fresh SQLite file",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
