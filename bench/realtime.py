"""Realtime benchmark: N concurrent chat visitors over websockets against one `frontdesk
serve`, sending M messages per second in total; one agent listens on /api/v1/events.

Prints connections held, visitor→agent delivery latency (visitor sends → the agent's event
socket receives message.created) p50/p99, visitor→ack latency, and the server's RSS.

    python bench/realtime.py --visitors 10000 --rate 1000 --duration 20
    python bench/realtime.py --visitors 500 --rate 100 --duration 5        # a quick look

Everything runs on this machine (loopback only): the server in a subprocess on a temporary
SQLite database (or --database-url postgresql+psycopg://...), the clients in this process.
Visitor tokens are minted with the server's secret instead of N HTTP session calls."""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/realtime.py` puts bench/ first on the path, where email.py would shadow the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time

import httpx
import websockets

from frontdesk.channels.webchat.tokens import VisitorClaims, issue


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def family(pid: int) -> list[int]:
    """The process and its descendants (with --workers, uvicorn's supervisor and workers)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            pids.extend(family(int(child)))
    return pids


def rss_mb(pid: int) -> tuple[float, float]:
    """RSS and peak RSS of the process and its descendants, summed."""
    rss = peak = 0.0
    for member in family(pid):
        fields = {}
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        rss += int(fields["VmRSS"].split()[0]) / 1024
        peak += int(fields["VmHWM"].split()[0]) / 1024
    return rss, peak


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process and its descendants (default: this process)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    total = 0
    for member in family(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cli(env: dict[str, str], *args: str) -> str:
    code = "from frontdesk.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


class Bench:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.delivered: list[float] = []
        self.acked: list[float] = []
        self.sent_at: dict[str, float] = {}
        self.ack_started: dict[str, float] = {}
        self.errors = 0
        self.connect_failures = 0

    async def agent(self, url: str, ready: asyncio.Event, stop: asyncio.Event) -> None:
        async with websockets.connect(url, max_size=None) as ws:
            ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                now = time.monotonic()
                event = json.loads(raw)
                if event.get("type") != "message.created":
                    continue
                text = event["payload"].get("text", "")
                if text.startswith("bench "):
                    started = self.sent_at.pop(text.split(" ")[1], None)
                    if started is not None:
                        self.delivered.append(now - started)

    def on_frame(self, raw: bytes) -> None:
        frame = json.loads(raw)
        if frame["type"] == "ack":
            started = self.ack_started.pop(frame["id"], None)
            if started is not None:
                self.acked.append(time.monotonic() - started)
        elif frame["type"] == "error":
            self.errors += 1

    async def visitor(
        self, host: str, port: int, path: str, held: list[LeanVisitor], barrier: asyncio.Semaphore
    ) -> None:
        async with barrier:
            try:
                _, conn = await asyncio.get_running_loop().create_connection(
                    lambda: LeanVisitor(self, host, port, path), host, port
                )
                await asyncio.wait_for(conn.hello, 60)
            except Exception:
                self.connect_failures += 1
                return
        held.append(conn)

    async def send(self, held: list[LeanVisitor], rate: int, duration: float) -> int:
        """One task paces every visitor: each frame is written straight to its socket."""
        tick = 0.01
        count = 0
        started = time.monotonic()
        while (now := time.monotonic()) - started < duration:
            while count < rate * (now - started):
                conn = held[count % len(held)]
                ident = f"b{count:09d}"
                text = f'{{"type":"message","id":"{ident}","text":"bench {ident}"}}'
                self.sent_at[ident] = self.ack_started[ident] = time.monotonic()
                conn.send_text(text.encode())
                count += 1
            await asyncio.sleep(max(0.0, tick - (time.monotonic() - now)))
        return count


class LeanVisitor(asyncio.Protocol):
    """A minimal websocket client (RFC 6455) for one visitor: no task, no queue, frames
    parsed in data_received. It does what a browser does on the wire — masked client
    frames, pongs to the server's pings — so the server's work is the same as with a
    full client, while 10,000 of them leave the shared cores to the server."""

    def __init__(self, bench: Bench, host: str, port: int, path: str) -> None:
        self.bench = bench
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.hello: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.upgraded = False
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if not self.hello.done():
            self.hello.set_exception(ConnectionError("closed before hello"))

    def send_text(self, payload: bytes) -> None:
        self._send(0x1, payload)

    def _send(self, opcode: int, payload: bytes) -> None:
        if not self.open or self.transport is None:
            return
        size = len(payload)
        header = bytes([0x80 | opcode])
        if size < 126:
            header += bytes([0x80 | size])
        elif size < 65536:
            header += bytes([0x80 | 126]) + size.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + size.to_bytes(8, "big")
        mask = os.urandom(4)
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
        self.transport.write(header + mask + masked)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                if not self.hello.done():
                    self.hello.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = self.open = True
            self.buffer = rest
        while len(self.buffer) >= 2:
            opcode, size, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + size:
                return
            payload = self.buffer[start : start + size]
            self.buffer = self.buffer[start + size :]
            if opcode == 0x1:
                if not self.hello.done():
                    self.hello.set_result(None)  # the server's hello frame
                else:
                    self.bench.on_frame(payload)
            elif opcode == 0x9:
                self._send(0xA, payload)  # pong
            elif opcode == 0x8:
                self.open = False
                assert self.transport is not None
                self.transport.close()

    def close(self) -> None:
        if self.transport is not None and self.open:
            self._send(0x8, (1000).to_bytes(2, "big"))
            self.open = False
            self.transport.close()


async def run(opts: argparse.Namespace) -> None:
    limit = raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-bench-"))
    secret = secrets.token_hex(32)
    env = {
        **os.environ,
        "FRONTDESK_DATA_DIR": str(workdir),
        "FRONTDESK_SECRET_KEY": secret,
        "FRONTDESK_BASE_URL": f"http://127.0.0.1:{opts.port}",
    }
    if opts.database_url:
        env["FRONTDESK_DATABASE_URL"] = opts.database_url
    if opts.redis_url:
        env["FRONTDESK_REDIS_URL"] = opts.redis_url
    cli(env, "migrate")
    cli(env, "admin", "create", "--email", "bench@frontdesk.test", "--password", "bench-password")
    token = cli(env, "token", "create", "--agent", "bench@frontdesk.test").splitlines()[-1]
    code = "from frontdesk.cli import main; main()"
    command = [sys.executable, "-c", code, "serve", "--port", str(opts.port)]
    server = subprocess.Popen(
        [*command, "--workers", str(opts.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "server.log", "w"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{opts.port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            inbox = (
                await http.post(
                    "/api/v1/inboxes",
                    json={"channel": "webchat", "name": "Bench chat"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()
        bench = Bench(opts)
        ws_base = base.replace("http", "ws")
        stop, ready = asyncio.Event(), asyncio.Event()
        agent = asyncio.create_task(
            bench.agent(f"{ws_base}/api/v1/events?token={token}&since=0", ready, stop)
        )
        await ready.wait()
        held: list[LeanVisitor] = []
        barrier = asyncio.Semaphore(opts.connect_concurrency)
        connect_started = time.monotonic()
        await asyncio.gather(
            *(
                bench.visitor(
                    "127.0.0.1",
                    opts.port,
                    "/widget/ws?token="
                    + issue(secret, VisitorClaims(inbox["id"], f"vbench{n}", None)),
                    held,
                    barrier,
                )
                for n in range(opts.visitors)
            )
        )
        connect_seconds = time.monotonic() - connect_started
        idle_rss, _ = rss_mb(server.pid)
        random.shuffle(held)
        server_cpu, client_cpu = cpu_seconds(server.pid), cpu_seconds()
        sent = await bench.send(held, opts.rate, opts.duration) if held else 0
        server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, cpu_seconds() - client_cpu
        drain_started = time.monotonic()
        while bench.sent_at and time.monotonic() - drain_started < opts.drain:
            await asyncio.sleep(0.1)
        drain_seconds = time.monotonic() - drain_started
        rss, peak = rss_mb(server.pid)
        still_open = sum(1 for conn in held if conn.open)
        stop.set()
        await agent
        delivered = bench.delivered
        print(f"command: {' '.join(sys.argv)}")
        print(f"fd limit raised to: {limit}")
        print(f"database: {'postgresql' if opts.database_url else 'sqlite (embedded default)'}")
        print(
            f"visitors requested: {opts.visitors}, connected in {connect_seconds:.1f}s, "
            f"connect failures: {bench.connect_failures}"
        )
        print(f"connections held at end: {still_open}")
        print(
            f"messages sent: {sent} in {opts.duration:.0f}s "
            f"(target {opts.rate}/s, achieved {sent / opts.duration:.0f}/s)"
        )
        print(
            f"delivered to agent: {len(delivered)} (backlog drained {drain_seconds:.1f}s after "
            f"sending stopped)  not delivered within {opts.drain:.0f}s: "
            f"{sent - len(delivered)}  errors: {bench.errors}"
        )
        print(
            f"visitor->agent delivery p50: {percentile(delivered, 0.5) * 1000:.1f} ms  "
            f"p99: {percentile(delivered, 0.99) * 1000:.1f} ms  "
            f"max: {max(delivered, default=float('nan')) * 1000:.1f} ms"
        )
        print(
            f"visitor->ack p50: {percentile(bench.acked, 0.5) * 1000:.1f} ms  "
            f"p99: {percentile(bench.acked, 0.99) * 1000:.1f} ms"
        )
        print(
            f"server RSS: idle with all sockets {idle_rss:.0f} MB, after load {rss:.0f} MB, "
            f"peak {peak:.0f} MB"
        )
        print(
            f"CPU while sending: server {server_cpu / opts.duration:.0%} of a core, "
            f"bench client {client_cpu / opts.duration:.0%} of a core"
        )
        if delivered:
            print(f"mean delivery: {statistics.mean(delivered) * 1000:.1f} ms")
        for conn in held:
            conn.close()
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=20)
        if server.poll() is None:
            server.kill()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=1_000, help="messages per second, in total")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--drain", type=float, default=120.0, help="max wait for the backlog")
    parser.add_argument("--connect-concurrency", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--redis-url", default=None, help="default: in-process pub/sub")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (> 1 needs --redis-url)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
