"""Ingest benchmark: N signed inbound messages, C concurrent clients, through `frontdesk serve`.

Prints messages/s and acknowledgement p50/p99 per database, and — measured in the same run —
the raw rate of single-row committed inserts of the same size into the same database, with the
ratio. Usage: python bench/ingest.py [--n 3000] [--c 32] [--db sqlite,postgresql]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/ingest.py` puts bench/ first on the path, where email.py would shadow the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import json
import os
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate
from frontdesk.config import Settings
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.kit.security import sign
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

PG_SERVER = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
TEXT = "Hello, my parcel has not arrived yet and the tracking page shows no update. " * 3


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    name = f"frontdesk_bench_{os.getpid()}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def prepare(settings: Settings) -> tuple[int, str]:
    runtime = Runtime.build(settings, with_runner=False)
    try:
        async with runtime.db.session() as session:
            admin = await auth.create_agent(
                session,
                AgentCreate(
                    email="bench@frontdesk.test",
                    name="Bench",
                    password="bench-pass-1",
                    role="admin",
                ),
            )
            inbox = await inboxes.create_inbox(
                session, InboxCreate(channel="api", name="Bench"), settings
            )
            await auth.issue_token(session, admin)
            await uow.commit(session)
            return inbox.id, inbox.secret
    finally:
        await runtime.db.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def post_all(
    port: int, inbox_id: int, secret: str, n: int, c: int, *, offset: int = 0
) -> tuple[float, list[float]]:
    """C keep-alive HTTP/1.1 connections written with bare asyncio streams, so the load
    generator (on the same 2 cores) costs as little CPU as possible."""
    latencies: list[float] = []
    next_index = iter(range(offset, offset + n))
    path = f"/api/v1/inboxes/{inbox_id}/inbound"

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in next_index:
                body = json.dumps(
                    {
                        "external_id": f"bench-{i}",
                        "from": {"address": f"customer{i % 1000}@example.com"},
                        "text": TEXT,
                    }
                ).encode()
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                    f"X-Frontdesk-Signature: {sign(secret, body)}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                started = time.perf_counter()
                writer.write(head + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                payload = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if b" 202 " not in status_line:
                    raise RuntimeError(f"{status_line!r}: {payload[:300]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(c)))
    return n / (time.perf_counter() - started), latencies


async def raw_rate(url: str, n: int, c: int) -> float:
    """Single-row INSERT + COMMIT of a row the size of one message, same database, same c."""
    payload = TEXT
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, body TEXT)")
        started = time.perf_counter()
        for _ in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO bench_raw (body) VALUES (?)", (payload,))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        return n / elapsed
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, body text)"
        )
    remaining = list(range(n))

    async def writer() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            while remaining:
                remaining.pop()
                await conn.execute("INSERT INTO bench_raw (body) VALUES (%s)", (payload,))
                await conn.commit()

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(c)))
    return n / (time.perf_counter() - started)


def run(kind: str, n: int, c: int, workers: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"fd-bench-{kind}-"))
    url = fresh_database(kind, workdir)
    try:
        upgrade(url)
        settings = Settings(env="development", data_dir=workdir, database_url=url)
        inbox_id, secret = asyncio.run(prepare(settings))
        port = free_port()
        env = dict(os.environ)
        env.update(
            FRONTDESK_DATABASE_URL=url,
            FRONTDESK_DATA_DIR=str(workdir),
            FRONTDESK_SECRET_KEY=secrets.token_hex(32),
            FRONTDESK_BUS_PREFIX=f"bench{os.getpid()}",
        )
        if workers > 1:  # several processes: events must cross them
            env["FRONTDESK_REDIS_URL"] = os.environ.get(
                "FRONTDESK_BENCH_REDIS", "redis://127.0.0.1:6379/14"
            )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "frontdesk",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            warm = min(200, n)
            asyncio.run(post_all(port, inbox_id, secret, warm, c, offset=n))  # warm-up
            rate, latencies = asyncio.run(post_all(port, inbox_id, secret, n, c))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
        raw = asyncio.run(raw_rate(url, n, c))
    finally:
        drop_database(url)
    return {
        "rate": rate,
        "p50": statistics.median(latencies) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "raw": raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=3000, help="messages per database")
    parser.add_argument("--c", type=int, default=32, help="concurrent clients")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="`frontdesk serve --workers`")
    args = parser.parse_args()
    print(f"ingest: n={args.n} c={args.c} workers={args.workers} cpus={os.cpu_count()}")
    for kind in args.db.split(","):
        result = run(kind, args.n, args.c, args.workers)
        print(
            f"{kind:<11} {result['rate']:8.1f} msg/s   ack p50 {result['p50']:6.1f} ms"
            f"   p99 {result['p99']:6.1f} ms   raw inserts {result['raw']:8.1f}/s"
            f"   ratio {result['rate'] / result['raw']:.1%}"
        )


if __name__ == "__main__":
    main()
