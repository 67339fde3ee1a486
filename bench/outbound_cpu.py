"""Outbound delivery's CPU per reply, in one process: a working tool beside
bench/channels_cpu.py. The job runner of a real `Runtime` (as `frontdesk worker` runs it, the
analytics follower included) drains replies queued beforehand, against bench/channels.py's
fake providers served from a thread of their own, and it prints the CPU time of the runner's
thread per delivery (the fakes' thread excluded), SQL statements and commits per delivery.

The database is prepared once (inboxes, 200 conversations per channel) and kept as a template
(`--template`, PostgreSQL): each round copies it, so rounds of two code versions start from the
same rows. Run two checkouts' code alternately with PYTHONPATH to compare them.

On SQLite (`--database-url sqlite`) the template is a file and each round runs on a copy.

Usage: python bench/outbound_cpu.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/x
       [--replies 1000] [--rounds 1] [--template fd_h4_outbound_tmpl] [--sql] [--profile f.prof]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/outbound_cpu.py` puts bench/ first on the path, where email.py would shadow
# the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import cProfile
import importlib.util
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from typing import Any

import psycopg
from sqlalchemy import select

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.app import create_app
from frontdesk.config import Settings
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

_here = Path(__file__).parent
for _name in ("channels", "channels_cpu"):
    _spec = importlib.util.spec_from_file_location(f"bench_{_name}", _here / f"{_name}.py")
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[f"bench_{_name}"] = _module
    _spec.loader.exec_module(_module)
channels: Any = sys.modules["bench_channels"]
channels_cpu: Any = sys.modules["bench_channels_cpu"]

FAKES_PORT = 18474  # fixed: the template's inboxes name it
SECRET = "outbound-cpu-bench-" + "0" * 45


FOLLOWER = True  # --no-follower: the analytics follower off (a per-second cost, not per delivery)


def settings_for(url: str, workdir: Path) -> Settings:
    return Settings(
        env="development", data_dir=workdir, database_url=url, base_url="http://bench",
        allow_private_webhooks=True, secret_key=SECRET,
        analytics_poll_seconds=1.0 if FOLLOWER else 0.0,
    )  # fmt: skip


COMPILED: Counter[str] = Counter()


def count_compiles() -> None:
    """--compiles: which statements SQLAlchemy compiles (cache misses), by their start."""
    from sqlalchemy.sql.compiler import SQLCompiler

    original = SQLCompiler.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        COMPILED[" ".join(str(self.string).split())[:150]] += 1

    SQLCompiler.__init__ = init  # type: ignore[method-assign]


def stub_sends(fakes: Any) -> None:
    """--stub-sends: every adapter answers at once without a call (what the rest costs)."""
    from frontdesk.inboxes.port import SendResult, channel_plugins

    for plugin in channel_plugins():
        adapter = plugin.adapter

        async def send(inbox: Any, outbound: Any, settings: Any) -> Any:
            fakes.calls += 1
            if (found := channels.MARKER.search((outbound.text or "").encode())) is not None:
                fakes.arrivals[int(found.group(1))] = time.perf_counter()
            return SendResult("sent", f"stub-{outbound.message_id}")

        adapter.send = send  # type: ignore[method-assign]


def server_url(url: str, name: str) -> str:
    return f"{url.rstrip('/').rsplit('/', 1)[0]}/{name}"


def admin(sql: str) -> None:
    with psycopg.connect(f"{channels.PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def exists(name: str) -> bool:
    with psycopg.connect(f"{channels.PG_SERVER}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() \
            is not None  # fmt: skip


async def make_template(url: str, workdir: Path) -> None:
    """Inboxes of every channel and one message from each of 200 senders per channel (through
    the ASGI app, as the providers' webhooks come), their jobs drained."""
    upgrade(url)
    settings = settings_for(url, workdir)
    setup = await channels.prepare(settings, f"http://127.0.0.1:{FAKES_PORT}")
    app: Any = create_app(settings, with_runner=False)
    async with app.router.lifespan_context(app):
        for channel in channels.CHANNELS:
            _, path, secret = setup.inboxes[channel]
            hooks = [channels.webhook(channel, i, False, path=path, base="http://bench",
                                      secret=secret) for i in range(channels.SENDERS)]  # fmt: skip
            await channels_cpu.post_all(app, hooks, 8)
    runtime = Runtime.build(settings, with_runner=True)
    await runtime.start()
    try:  # the inbound jobs drained, the analytics follower caught up
        while await channels.queued(settings):
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)
    finally:
        await runtime.stop()
    print(f"template ready: {url}", flush=True)


async def api_secret(settings: Settings) -> str:
    from frontdesk.inboxes.models import Inbox

    runtime = Runtime.build(settings, with_runner=False)
    try:
        async with runtime.db.session() as session:
            inbox = await session.scalar(select(Inbox).where(Inbox.channel == "api"))
            assert inbox is not None
            return inbox.secret
    finally:
        await runtime.db.dispose()


def fakes_thread(fakes: Any) -> tuple[threading.Thread, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(channels.serve_fakes(fakes, FAKES_PORT))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="fakes", daemon=True)
    thread.start()
    ready.wait(10)
    return thread, loop


async def one_round(url: str, workdir: Path, args: argparse.Namespace, fakes: Any) -> None:
    settings = settings_for(url, workdir)
    # A fresh reply queue: replies go to conversations of every channel, interleaved.
    targets = await channels.conversations(settings, skip=-1)
    fakes.api_secret = await api_secret(settings)
    await channels.queue_replies(settings, targets, args.replies)
    fakes.arrivals.clear()
    fakes.calls = fakes.duplicates = fakes.refused = 0
    runtime = Runtime.build(settings, with_runner=True)
    meter = channels_cpu.Meter()
    for engine in runtime.db.engines:
        meter.listen(engine)
    profiler = cProfile.Profile(time.thread_time) if args.profile else None
    if profiler:
        profiler.enable()
    cpu, process, wall = time.thread_time(), time.process_time(), time.perf_counter()
    await runtime.start()
    runner = runtime.runner
    assert runner is not None
    while len(fakes.arrivals) < args.replies or runner._running:
        await asyncio.sleep(0.02)
        if time.perf_counter() - wall > 300:
            print(f"  ! only {len(fakes.arrivals)} delivered in 300 s")
            break
    cpu, process = time.thread_time() - cpu, time.process_time() - process
    wall = time.perf_counter() - wall
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    await runtime.stop()
    n = max(len(fakes.arrivals), 1)
    async_left = await channels.queued(settings)
    print(f"  {len(fakes.arrivals)} delivered in {wall:5.2f} s ({n / wall:6.1f}/s)  "
          f"runner thread CPU {cpu / n * 1000:5.2f} ms/delivery  "
          f"(process {process / n * 1000:5.2f})  {meter.statements / n:5.2f} stmts  "
          f"{meter.commits / n:5.3f} commits  calls {fakes.calls} twice {fakes.duplicates} "
          f"jobs left {async_left}  load {channels.load()}", flush=True)  # fmt: skip
    if args.compiles:
        print("  statements compiled (not found in SQLAlchemy's cache):")
        for sql, count in COMPILED.most_common(12):
            print(f"      {count:5d}  {sql}")
    if args.sql:
        for sql, count in meter.sql.most_common(25):
            print(f"      {count / n:6.3f}  {sql}")


def start_fakes(args: argparse.Namespace) -> Any:
    """The fake providers on their thread, with --stub-sends and --compiles applied."""
    fakes = channels.Fakes()
    fakes_thread(fakes)
    if args.stub_sends:
        stub_sends(fakes)
    if args.compiles:
        count_compiles()
    return fakes


async def main_sqlite(args: argparse.Namespace, workdir: Path) -> None:
    """`--database-url sqlite`: the template is a file (`/tmp/<template>.sqlite3`), each round
    runs on a copy of it."""
    template = Path(tempfile.gettempdir()) / f"{args.template}.sqlite3"
    if not template.exists():
        try:
            await make_template(f"sqlite+aiosqlite:///{template}", workdir)
        except BaseException:
            template.unlink(missing_ok=True)
            raise
    fakes = start_fakes(args)
    where = f"sqlite code={frontdesk_path()}"
    print(f"outbound_cpu: replies={args.replies} {where} load {channels.load()}")
    for _ in range(args.rounds):
        copy = workdir / "round.sqlite3"
        for suffix in ("-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, copy)
        await one_round(f"sqlite+aiosqlite:///{copy}", workdir, args, fakes)


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fd-outbound-cpu-"))
    (workdir / "blobs").mkdir(exist_ok=True)
    if args.database_url.startswith("sqlite"):
        await main_sqlite(args, workdir)
        return
    if not exists(args.template):
        admin(f'CREATE DATABASE "{args.template}"')
        try:
            await make_template(server_url(args.database_url, args.template), workdir)
        except BaseException:
            admin(f'DROP DATABASE IF EXISTS "{args.template}" WITH (FORCE)')
            raise
    fakes = start_fakes(args)
    name = f"{args.template}_run{os.getpid()}"
    print(f"outbound_cpu: replies={args.replies} code={frontdesk_path()} load {channels.load()}")
    for _ in range(args.rounds):
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin(f'CREATE DATABASE "{name}" TEMPLATE "{args.template}"')
        try:
            await one_round(server_url(args.database_url, name), workdir, args, fakes)
        finally:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def frontdesk_path() -> str:
    import frontdesk

    return str(Path(frontdesk.__file__).parent.parent)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", required=True, help="a PostgreSQL URL (its server), or sqlite"
    )
    parser.add_argument("--template", default="fd_outbound_cpu_tmpl", help="template database")
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stub-sends", action="store_true", help="no HTTP: sends answer at once")
    parser.add_argument("--no-follower", action="store_true", help="no analytics follower")
    parser.add_argument("--compiles", action="store_true", help="statements compiled, counted")
    parser.add_argument("--sql", action="store_true", help="the most frequent statements")
    parser.add_argument("--profile", default=None, help="write a cProfile (thread CPU time)")
    args = parser.parse_args()
    global FOLLOWER
    FOLLOWER = not args.no_follower
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
