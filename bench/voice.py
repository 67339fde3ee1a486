"""Voice benchmark: N calls in progress at once through the IVR of one voice inbox, driven
by a fake Twilio-compatible provider, against `frontdesk serve` (SQLite: it runs the jobs
too; --database-url for PostgreSQL + a `frontdesk worker`).

Each call does what the provider does for a real one, every webhook signed exactly as Twilio
signs (X-Twilio-Signature): the incoming call (language menu), a language (queue menu), a
queue (position announcement), the caller's next turn once an agent took the call (the
agent's softphone is dialled), the agent's leg answered, the dial ended, the recording
callback (10 % of them delivered twice), the call's final status. The calls start over
--ramp seconds and the caller takes 0.2-1 s between steps (--pace fast, the default), so all
N are in progress together and a call lasts a few seconds: the provider's webhooks for them
overlap, at ~500 a second for --n 500, far more than 500 real callers make. --pace listening
has each caller hear the prompts (the menus, the position announcement, a 20-60 s
conversation): the same N calls at once, at the rate real callers make webhooks (see PACES).
The agent takes each call through the API (POST /api/v1/calls/{id}/answer), not timed. The
callers are bare asyncio HTTP/1.1 connections (one per call), cheap enough that the client's
own CPU does not show as the server's response time.

Prints p50/p99/max of the webhook response times (all steps, and per step), the webhook rate,
the load average (before, during, after), the serve process's CPU per webhook (in its event
loop's thread and in all; with and without its idle background, measured for a few seconds
before the calls start), calls lost (not ended as answered), and recordings: stored, stored
twice, deleted at the provider.

Usage: python bench/voice.py [--n 500] [--ramp 5] [--pace fast|listening]
       [--database-url postgresql+psycopg://...]
       [--workers N --redis-url redis://...]  (N serve processes, as `frontdesk serve --workers`)
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/voice.py` puts bench/ first on the path, where email.py would shadow the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import psycopg
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate
from frontdesk.channels.voice.models import VoiceCall
from frontdesk.config import Settings
from frontdesk.conversations.models import Attachment
from frontdesk.db import Database
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.port import webhook_url
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.kit.twilio import signature
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

PG_SERVER = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "9" * 32
OUR_NUMBER = "+14155550199"
AUDIO = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 2000  # ~8 kB "MP3"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class FakeProvider:
    """The provider's REST API: recordings served (basic auth checked), then deleted."""

    def __init__(self) -> None:
        self.recordings: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.deleted: list[str] = []
        self.bad_auth = 0
        base = "/2010-04-01/Accounts/{sid}/Recordings/{rec}"
        self.app = Starlette(
            routes=[
                Route(base + ".mp3", self.get, methods=["GET"]),
                Route(base + ".json", self.delete, methods=["DELETE"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        ok = (
            request.path_params["sid"] == ACCOUNT_SID
            and request.headers.get("authorization")
            == httpx.BasicAuth(ACCOUNT_SID, AUTH_TOKEN)._auth_header
        )
        self.bad_auth += not ok
        return ok

    async def get(self, request: Request) -> Response:
        rec = request.path_params["rec"]
        if not self._authorised(request) or rec not in self.recordings:
            return Response(status_code=404)
        self.fetched.append(rec)
        return Response(self.recordings[rec], media_type="audio/mpeg")

    async def delete(self, request: Request) -> Response:
        rec = request.path_params["rec"]
        if not self._authorised(request) or self.recordings.pop(rec, None) is None:
            return Response(status_code=404)
        self.deleted.append(rec)
        return Response(status_code=204)


class Connection:
    """One keep-alive HTTP/1.1 connection of a caller, written with bare asyncio streams. An
    httpx client cost this process about 4 ms of CPU a request, more than the server spent
    answering it: with 500 webhooks a second on a shared core, the client's own backlog was
    timed as the server's response time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """(status, content type, body); sent again once on a new connection if the server
        closed this one (counted by the caller through `resent`)."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        length, kind = 0, ""
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "content-type":
                kind = value.strip()
            elif name.lower() == "transfer-encoding":
                raise RuntimeError("chunked answers are not read by this bench")
        answer = await self.reader.readexactly(length)
        return int(status_line.split()[1]), kind, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


@dataclass
class Run:
    base: str
    port: int
    hook: str
    provider_url: str
    token: str
    db: Database
    provider: FakeProvider
    pace: Pace
    sqlite_path: str | None = None
    timings: dict[str, list[float]] = field(default_factory=dict)
    resent: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Call:
    run: Run
    number: str
    # Each call has its own connection, as each of the provider's webhooks would.
    connection: Connection
    sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    twiml: ET.Element | None = None

    async def post(self, step: str, url: str, **extra: str) -> ET.Element | None:
        params = {
            "AccountSid": ACCOUNT_SID, "CallSid": self.sid, "From": self.number,
            "To": OUR_NUMBER, "Direction": "inbound", "CallStatus": "in-progress", **extra,
        }  # fmt: skip
        body = urlencode(params).encode()
        headers = {
            "X-Twilio-Signature": signature(AUTH_TOKEN, url, params.items()),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        path = url.removeprefix(self.run.base)
        started = time.perf_counter()
        try:
            status, kind, answer = await self.connection.post(path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError):
            # The server closed an idle keep-alive connection as we reused it: sent again on
            # a new one (counted), as the provider would retry a connection failure.
            self.run.resent += 1
            self.connection.close()
            status, kind, answer = await self.connection.post(path, body, headers)
        self.run.timings.setdefault(step, []).append(time.perf_counter() - started)
        if status != 200:
            self.run.failures.append(f"{step}: {status} {answer[:200]!r}")
            raise RuntimeError(step)
        if kind.startswith("text/xml"):
            self.twiml = ET.fromstring(answer)
            return self.twiml
        return None

    def find(self, path: str) -> ET.Element:
        assert self.twiml is not None
        found = self.twiml.find(path)
        if found is None:
            raise RuntimeError(f"no {path} in {ET.tostring(self.twiml).decode()[:300]}")
        return found


@dataclass
class Pace:
    """How long a caller takes between the provider's webhooks of one call (seconds)."""

    language: tuple[float, float]  # hearing the language menu before pressing a key
    menu: tuple[float, float]  # hearing the queue menu
    hold: tuple[float, float]  # the position announcement and hold music, to the next turn
    ring: tuple[float, float]  # the agent's softphone ringing until it is answered
    talk: tuple[float, float]  # the conversation
    recording: tuple[float, float]  # the dial's end to the recording callback


PACES = {
    # The default: every step 0.2-1 s after the last (a conversation 0.5-2 s), so a call
    # lasts a few seconds and all N calls' webhooks come within ~10 s: ~500 webhooks a
    # second for --n 500, far more than 500 real callers make.
    "fast": Pace((0.2, 1), (0.2, 1), (0.2, 1), (0, 0), (0.5, 2), (0, 0)),
    # A caller listening to the prompts: the three-language menu (6-10 s) and the queue menu
    # (4-8 s) are heard before a key is pressed; the caller's next turn comes after the
    # position announcement and the callback offer (~6 s) and some hold music; the agent's
    # softphone rings 1-4 s; the conversation is 20-60 s (real ones last minutes: shorter
    # only brings the end-of-call webhooks closer together); the recording is ready 1-5 s
    # after the dial ends.
    "listening": Pace((6, 10), (4, 8), (6, 20), (1, 4), (20, 60), (1, 5)),
}


async def think(rng: random.Random, span: tuple[float, float]) -> None:
    if span[1] > 0:
        await asyncio.sleep(rng.uniform(*span))


async def one_call(run: Run, index: int, delay: float) -> bool:
    """One call from ring to hang-up; True when it ended answered."""
    rng = random.Random(index)
    await asyncio.sleep(delay)
    connection = Connection(run.port)
    try:
        return await _call_steps(run, Call(run, f"+9715{index:08d}", connection), index, rng)
    finally:
        connection.close()


async def _call_steps(run: Run, call: Call, index: int, rng: random.Random) -> bool:
    pace = run.pace
    try:
        await call.post("incoming", run.hook, CallStatus="ringing")
        await think(rng, pace.language)
        await call.post(
            "language", call.find("Gather").get("action") or "", Digits=str(index % 3 + 1)
        )
        await think(rng, pace.menu)
        await call.post("menu", call.find("Gather").get("action") or "", Digits=str(index % 2 + 1))
        await take(run, call.sid)
        await think(rng, pace.hold)
        await call.post("wait", (call.find("Redirect").text or "").strip())
        dial = call.find("Dial")
        leg = call.find("Dial/Client")
        await think(rng, pace.ring)
        await call.post(
            "agent-leg", leg.get("statusCallback") or "", ParentCallSid=call.sid,
            CallSid="CA" + secrets.token_hex(16),
        )  # fmt: skip
        await think(rng, pace.talk)
        await call.post("dialed", dial.get("action") or "", DialCallStatus="completed",
                        DialCallDuration="95")  # fmt: skip
        rec = "RE" + secrets.token_hex(16)
        run.provider.recordings[rec] = AUDIO
        url = f"{run.provider_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{rec}"
        await think(rng, pace.recording)
        for _ in range(2 if index % 10 == 0 else 1):  # 10 %: the callback comes twice
            await call.post(
                "recording", dial.get("recordingStatusCallback") or "", RecordingSid=rec,
                RecordingUrl=url, RecordingStatus="completed", RecordingDuration="95",
            )  # fmt: skip
        await call.post("status", run.hook + "/status", CallStatus="completed", CallDuration="120")
        return True
    except (RuntimeError, OSError, asyncio.IncompleteReadError) as exc:
        run.failures.append(f"call {index}: {exc!r}")
        return False


async def take(run: Run, sid: str) -> None:
    """The agent answers the call in the desktop (through the API, on a connection of its
    own; not timed)."""
    message_id = await asyncio.to_thread(
        read_sqlite, run.sqlite_path, "SELECT message_id FROM voice_calls WHERE call_sid = ?", sid
    ) if run.sqlite_path else await message_of(run.db, sid)  # fmt: skip
    connection = Connection(run.port)
    try:
        status, _, answer = await connection.post(
            f"/api/v1/calls/{message_id}/answer", b"",
            {"Authorization": f"Bearer {run.token}"},
        )  # fmt: skip
    finally:
        connection.close()
    if status != 200:
        raise RuntimeError(f"answer: {status} {answer[:200]!r}")


def read_sqlite(path: str, sql: str, *args: object) -> int:
    """One number, read without taking SQLite's write lock (the server's is busy enough)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        row = conn.execute(sql, args).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def message_of(db: Database, sid: str) -> int:
    async with db.session() as session:
        row = await session.scalar(select(VoiceCall).where(VoiceCall.call_sid == sid))
        await session.commit()
    assert row is not None
    return row.message_id


async def prepare(settings: Settings, provider_url: str) -> tuple[str, str]:
    runtime = Runtime.build(settings, with_runner=False)
    try:
        async with runtime.db.session() as session:
            admin = await auth.create_agent(
                session,
                AgentCreate(email="bench@frontdesk.test", name="Bench",
                            password="bench-pass-1", role="admin"),
            )  # fmt: skip
            inbox = await inboxes.create_inbox(
                session,
                InboxCreate(
                    channel="voice", name="Phone",
                    settings={
                        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                        "phone_number": OUR_NUMBER, "api_base_url": provider_url,
                        "queue_choices": ["1=1 Sales", "2=2 Support"],
                        "open_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        "opens_at": "00:00", "closes_at": "24:00",
                    },
                ),
                settings,
            )  # fmt: skip
            hook = webhook_url(inbox, settings)
            token = await auth.issue_token(session, admin)
            await uow.commit(session)
        assert hook is not None
        return hook, token
    finally:
        await runtime.db.dispose()


def fresh_database(url: str | None, workdir: Path) -> str:
    if url is None:
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    name = f"frontdesk_bench_voice_{os.getpid()}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{url.rstrip('/').rsplit('/', 1)[0]}/{name}"


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = Path(env["FRONTDESK_DATA_DIR"]) / f"{args[0]}.log"
    profile = os.environ.get("FRONTDESK_BENCH_PROFILE")  # a directory: cProfile each process
    python = [sys.executable]
    if profile:
        python += ["-m", "cProfile", "-o", f"{profile}/voice-{args[0]}.prof"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*python, "-m", "frontdesk", *args], env=env,
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip


async def started(base: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("frontdesk serve did not start")


STORED_SQL = (
    "SELECT COUNT(*) FROM attachments WHERE filename LIKE 'call-%'",
    "SELECT COUNT(*) FROM (SELECT message_id FROM attachments WHERE filename LIKE 'call-%'"
    " GROUP BY message_id HAVING COUNT(*) > 1)",
)
ENDED_SQL = "SELECT COUNT(*) FROM voice_calls WHERE state = 'ended'"


async def recordings_stored(db: Database, path: str | None) -> tuple[int, int]:
    """(recordings stored, calls holding more than one)."""
    if path:
        total = await asyncio.to_thread(read_sqlite, path, STORED_SQL[0])
        return total, await asyncio.to_thread(read_sqlite, path, STORED_SQL[1])
    async with db.session() as session:
        per_call = (
            select(Attachment.message_id, func.count().label("n"))
            .where(Attachment.filename.like("call-%"))
            .group_by(Attachment.message_id)
            .subquery()
        )
        total = await session.scalar(select(func.coalesce(func.sum(per_call.c.n), 0)))
        twice = await session.scalar(select(func.count()).where(per_call.c.n > 1))
        await session.commit()
    return int(total or 0), int(twice or 0)


async def ended(db: Database, path: str | None) -> int:
    if path:
        return await asyncio.to_thread(read_sqlite, path, ENDED_SQL)
    async with db.session() as session:
        found = await session.scalar(
            select(func.count()).select_from(VoiceCall).where(VoiceCall.state == "ended")
        )
        await session.commit()
    return int(found or 0)


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system) a process and its children (`--workers`) have used so far:
    all their threads (the main threads' part is `loop_cpu_seconds`; summing both counted the
    main threads twice)."""
    return _tree_cpu(process.pid)[1]


def loop_cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """The part of `cpu_seconds` spent in the processes' main threads: the event loop, where
    Python runs (the rest is SQLite's connection threads and the thread pool)."""
    return _tree_cpu(process.pid)[0]


def _tree_cpu(pid: int) -> tuple[float, float]:
    """(main thread, all threads) CPU-s of a process and its children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        main = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # gone meanwhile
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick, (int(main[11]) + int(main[12])) / tick
    below = [_tree_cpu(int(child)) for child in children]
    return own[1] + sum(b[0] for b in below), own[0] + sum(b[1] for b in below)


class LoadSampler:
    """The 1-minute load average, sampled every second while the calls run."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append(float(load().split()[0]))
            await asyncio.sleep(1)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> str:
        if self.task is not None:
            self.task.cancel()
        if not self.samples:
            return "?"
        return f"mean {sum(self.samples) / len(self.samples):.1f}, max {max(self.samples):.1f}"


# Seconds the idle serve process is watched before the calls start.
IDLE_SECONDS = 3.0


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fd-bench-voice-"))
    url = fresh_database(args.database_url, workdir)
    sqlite = url.startswith("sqlite")
    provider = FakeProvider()
    provider_port, port = free_port(), free_port()
    provider_url = f"http://127.0.0.1:{provider_port}"
    fake = uvicorn.Server(
        uvicorn.Config(provider.app, host="127.0.0.1", port=provider_port, log_level="warning")
    )
    fake_task = asyncio.create_task(fake.serve())
    base = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    db: Database | None = None
    try:
        upgrade(url)
        settings = Settings(
            env="development", data_dir=workdir, database_url=url, base_url=base,
            allow_private_webhooks=True, secret_key=secrets.token_hex(32),
        )  # fmt: skip
        hook, token = await prepare(settings, provider_url)
        env = dict(os.environ)
        env.update(
            FRONTDESK_DATABASE_URL=url, FRONTDESK_DATA_DIR=str(workdir), FRONTDESK_BASE_URL=base,
            FRONTDESK_SECRET_KEY=settings.secret_key, FRONTDESK_BUS_PREFIX=f"bench{os.getpid()}",
            FRONTDESK_ALLOW_PRIVATE_WEBHOOKS="true",
            FRONTDESK_EMBEDDED_WORKER="true" if sqlite else "false",
        )  # fmt: skip
        if args.redis_url:
            env["FRONTDESK_REDIS_URL"] = args.redis_url
        processes.append(spawn(["serve", "--port", str(port), "--workers", str(args.workers)], env))
        if not sqlite:
            processes.append(spawn(["worker"], env))
        await started(base)
        print(f"voice: n={args.n} calls over {args.ramp}s, --pace {args.pace}, "
              f"cpus={os.cpu_count()}, "
              f"{'sqlite' if sqlite else 'postgresql'}, serve --workers {args.workers}"
              f"{' (jobs embedded)' if sqlite else ' + 1 frontdesk worker'}"
              f"; load before {load()}", flush=True)  # fmt: skip
        db = Database(url)
        # Warm-up (not counted): the server's first requests import and compile lazily.
        path = url.split("///", 1)[1] if sqlite else None
        pace = PACES[args.pace]
        warm = Run(base, port, hook, provider_url, token, db, provider, PACES["fast"], path)
        await asyncio.gather(*(one_call(warm, args.n + i, 0.1 * i) for i in range(5)))
        run = Run(base, port, hook, provider_url, token, db, provider, pace, path)
        # What the serve process spends with no call at all (job polling, gc rounds, event
        # followers): a long run (--pace listening) counts it against its webhooks too.
        await asyncio.sleep(1)
        idle_before, idle_began = cpu_seconds(processes[0]), time.perf_counter()
        await asyncio.sleep(IDLE_SECONDS)
        idle_rate = (cpu_seconds(processes[0]) - idle_before) / (time.perf_counter() - idle_began)
        cpu_before = [cpu_seconds(process) for process in processes]
        loop_before = loop_cpu_seconds(processes[0])
        own_before = time.process_time()
        sampler = LoadSampler()
        sampler.start()
        began = time.perf_counter()
        outcomes = await asyncio.gather(
            *(one_call(run, i, i * args.ramp / args.n) for i in range(args.n))
        )
        took = time.perf_counter() - began
        load_during = sampler.stop()
        own_cpu = time.process_time() - own_before
        cpu = cpu_seconds(processes[0]) - cpu_before[0]
        loop_cpu = loop_cpu_seconds(processes[0]) - loop_before
        worker_cpu = sum(cpu_seconds(p) for p in processes[1:]) - sum(cpu_before[1:])
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            stored, twice = await recordings_stored(db, path)
            if stored >= sum(outcomes) + 5 and len(provider.deleted) >= stored:
                break
            await asyncio.sleep(0.5)
        stored, twice = await recordings_stored(db, path)
        all_times = [t for times in run.timings.values() for t in times]
        count = max(len(all_times), 1)
        print(f"  {len(all_times)} webhooks in {took:.1f}s ({len(all_times) / took:.0f} a second;"
              f" load average during the run {load_during}); response time "
              f"p50 {percentile(all_times, 0.5) * 1000:.1f} ms, "
              f"p99 {percentile(all_times, 0.99) * 1000:.1f} ms, "
              f"max {max(all_times) * 1000:.1f} ms  (target p99 <= 100 ms)")  # fmt: skip
        idle = min(idle_rate * took, cpu)
        print(f"  the serve process used {cpu:.1f} CPU-s for them: "
              f"{cpu / count * 1000:.2f} ms per webhook (jobs and the agents' API calls "
              f"included); {loop_cpu / count * 1000:.2f} ms of it in the event loop's thread, "
              f"the rest in other threads (SQLite's); {idle:.1f} CPU-s of it idle background "
              f"({idle_rate * 1000:.0f} ms a second with no call: job polling, gc rounds, "
              f"followers): {(cpu - idle) / count * 1000:.2f} ms per webhook without it"
              )  # fmt: skip
        print(f"  this process (callers, provider, signing) used {own_cpu:.1f} CPU-s"
              + (f"; the worker {worker_cpu:.1f} CPU-s" if len(processes) > 1 else ""))  # fmt: skip
        for step, times in run.timings.items():
            print(f"    {step:<10} n={len(times):<5} p50 {percentile(times, 0.5) * 1000:6.1f} ms"
                  f"  p99 {percentile(times, 0.99) * 1000:6.1f} ms")  # fmt: skip
        lost = args.n + 5 - await ended(db, path)
        print(f"  calls lost: {lost} (of {args.n}; webhook failures: {len(run.failures)}; "
              f"sent again after a closed keep-alive connection: {run.resent})")  # fmt: skip
        for failure in run.failures[:3]:
            print(f"    ! {failure}")
        print(f"  recordings: {stored} stored, {twice} stored twice, "
              f"{len(provider.deleted)} deleted at the provider, "
              f"{len(provider.recordings)} left there; bad auth {provider.bad_auth}")  # fmt: skip
        p99 = percentile(all_times, 0.99) * 1000
        verdict = {
            "p99 <= 100 ms": p99 <= 100,
            "0 calls lost": lost == 0 and not run.failures,
            "every recording stored once": stored == args.n + 5 and twice == 0
            and len(provider.deleted) == stored and not provider.recordings,
        }  # fmt: skip
        print("  targets: " + "; ".join(
            f"{name}: {'met' if ok else 'NOT met'}" for name, ok in verdict.items()))  # fmt: skip
        print(f"  load after {load()}")
    finally:
        if db is not None:
            await db.dispose()
        for process in processes:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
        fake.should_exit = True
        await fake_task
        drop_database(url)
        print(f"(logs in {workdir})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=500, help="calls in progress together")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which they start")
    parser.add_argument(
        "--pace", choices=sorted(PACES), default="fast",
        help="callers' time between steps: fast (0.2-1 s) or listening (hearing the prompts)",
    )  # fmt: skip
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument(
        "--workers", type=int, default=1, help="`frontdesk serve --workers` (>1 needs --redis-url)"
    )
    parser.add_argument("--redis-url", default=None, help="FRONTDESK_REDIS_URL for the servers")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
