"""Inbound webhooks' server CPU per channel, in one process: the ASGI app is driven directly
(no sockets, no uvicorn, no jobs) with the signed webhooks of bench/channels.py, --c at once,
and each channel's CPU time (time.process_time, SQLite's thread included), SQL statements and
commits are counted per webhook, with the in-process ack p50/p99 (the app's own share of the
latency: 32 callers on one event loop).

A working tool, not a benchmark of latency: the CPU figures hold on a loaded machine (run it
niced) and say what one core can take (1 / CPU per webhook = webhooks a second).

Usage: python bench/channels_cpu.py [--n 1000] [--c 32] [--only sms,whatsapp]
       [--database-url postgresql+psycopg://...] [--sql] [--profile inbound.prof]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/channels_cpu.py` puts bench/ first on the path, where email.py would shadow
# the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import cProfile
import importlib.util
import secrets
import statistics
import tempfile
import time
from collections import Counter
from typing import Any

from sqlalchemy import event, func, select

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.app import create_app
from frontdesk.config import Settings
from frontdesk.kit.jobs import Job, JobRunner
from frontdesk.migrate import upgrade

_spec = importlib.util.spec_from_file_location(
    "bench_channels", Path(__file__).parent / "channels.py"
)
assert _spec is not None and _spec.loader is not None
channels = importlib.util.module_from_spec(_spec)
sys.modules["bench_channels"] = channels
_spec.loader.exec_module(channels)


class Meter:
    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.sql: Counter[str] = Counter()

    def listen(self, engine: Any) -> None:
        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _statement(*args: Any) -> None:
            self.statements += 1
            self.sql[" ".join(str(args[2]).split())[:120]] += 1

        @event.listens_for(engine.sync_engine, "commit")
        def _commit(*args: Any) -> None:
            self.commits += 1


async def call(app: Any, hook: Any) -> tuple[int, float]:
    """One webhook through the ASGI app; (status, seconds to the last body byte)."""
    path, _, query = hook.path.partition("?")
    headers = [(k.lower().encode(), v.encode()) for k, v in hook.headers.items()]
    headers += [(b"host", b"bench"), (b"content-length", str(len(hook.body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000),
        "server": ("bench", 80), "state": {},
    }  # fmt: skip
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": hook.body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    started = time.perf_counter()
    await app(scope, receive, send)
    return status, time.perf_counter() - started


TIMELINE: list[tuple[float, float]] = []  # (started, seconds) of each webhook


async def post_all(app: Any, hooks: list[Any], c: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue = iter(hooks)

    async def client() -> None:
        nonlocal errors
        for hook in queue:
            started = time.perf_counter()
            status, seconds = await call(app, hook)
            latencies.append(seconds)
            TIMELINE.append((started, seconds))
            if not 200 <= status < 300:
                errors += 1

    await asyncio.gather(*(client() for _ in range(c)))
    return latencies, errors


async def drain(
    settings: Settings, app: Any, profile: str | None, meter: Meter | None = None
) -> None:
    """Run the jobs the webhooks queued to the end (nothing else running): their CPU, by kind
    of job queued (what the embedded runner of SQLite's `frontdesk serve` adds per webhook)."""
    db = app.state.runtime.db
    async with db.session() as session:
        kinds = dict(
            (await session.execute(select(Job.kind, func.count()).group_by(Job.kind))).all()
        )
        await session.rollback()
    runner = JobRunner(db, settings)
    profiler = cProfile.Profile(time.process_time) if profile else None
    if profiler:
        profiler.enable()
    if meter is not None:
        meter.statements = meter.commits = 0
        meter.sql.clear()
    before, wall = time.process_time(), time.perf_counter()
    task = asyncio.create_task(runner.run())
    while True:
        await asyncio.sleep(0.2)
        async with db.session() as session:
            left = await session.scalar(
                select(func.count()).select_from(Job)
                .where(Job.state.in_(("available", "running")), Job.run_at <= func.now())
            )  # fmt: skip
            await session.rollback()
        if not left:
            break
    cpu = time.process_time() - before
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    await runner.stop()
    task.cancel()
    print(f"  jobs: {sum(kinds.values())} drained in {cpu:.2f} CPU-s "
          f"({time.perf_counter() - wall:.1f} s): {kinds}")  # fmt: skip
    if meter is not None:  # the drain's own polling counted in too (a few statements)
        jobs = max(sum(kinds.values()), 1)
        print(f"  per job: {meter.statements / jobs:.2f} statements, "
              f"{meter.commits / jobs:.3f} commits")
        for sql, count in meter.sql.most_common(20):
            print(f"      {count / jobs:5.2f}  {sql}")


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fd-channels-cpu-"))
    url = channels.fresh_database(args.database_url, workdir)
    base = "http://bench"
    try:
        upgrade(url)
        settings = Settings(
            env="development", data_dir=workdir, database_url=url, base_url=base,
            allow_private_webhooks=True, secret_key=secrets.token_hex(32),
        )  # fmt: skip
        setup = await channels.prepare(settings, "http://127.0.0.1:9")
        app: Any = create_app(settings, with_runner=args.runner)
        meter = Meter()
        picked = args.only.split(",") if args.only else list(channels.CHANNELS)
        async with app.router.lifespan_context(app):
            for engine in app.state.runtime.db.engines:  # the group commits' pool too
                meter.listen(engine)
            _, warm_path, warm_secret = setup.inboxes["warm"]
            await post_all(app, channels.plan("api", 300, path=warm_path, base=base,
                                              secret=warm_secret), args.c)  # fmt: skip
            kind = "postgresql" if args.database_url else "sqlite"
            print(f"channels_cpu: n={args.n} c={args.c} {kind}; load {channels.load()}")
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            for channel in picked:
                _, path, secret = setup.inboxes[channel]
                hooks = channels.plan(channel, args.n, path=path, base=base, secret=secret)
                meter.statements = meter.commits = 0
                meter.sql.clear()
                if profiler:
                    profiler.enable()
                cpu, wall = time.process_time(), time.perf_counter()
                latencies, errors = await post_all(app, hooks, args.c)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                if profiler:
                    profiler.disable()
                n = len(hooks)
                print(f"  {channel:<11} CPU {cpu / n * 1000:5.2f} ms/webhook  "
                      f"{meter.statements / n:5.2f} stmts  {meter.commits / n:5.3f} commits  "
                      f"{n / wall:6.1f}/s  ack p50 {statistics.median(latencies) * 1000:6.1f} ms"
                      f"  p99 {channels.percentile(latencies, 0.99) * 1000:6.1f} ms"
                      f"  max {max(latencies) * 1000:6.1f} ms  errors {errors}",
                      flush=True)  # fmt: skip
                if args.slow:
                    origin = min(t for t, _ in TIMELINE)
                    slow = sorted(TIMELINE, key=lambda x: -x[1])[: args.slow]
                    print(
                        "      slowest (start s, ms):",
                        " ".join(f"{t - origin:.2f}:{d * 1000:.0f}" for t, d in sorted(slow)),
                    )
                TIMELINE.clear()
                if args.sql:
                    for sql, count in meter.sql.most_common(15):
                        print(f"      {count / n:5.2f}  {sql}")
            if profiler:
                profiler.dump_stats(args.profile)
            if args.drain:
                await drain(
                    settings, app, args.profile and args.profile + ".jobs",
                    meter if args.sql else None,
                )
    finally:
        channels.drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="webhooks per channel")
    parser.add_argument("--c", type=int, default=32, help="concurrent callers")
    parser.add_argument("--only", default="", help="channels, comma-separated")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--sql", action="store_true", help="the most frequent statements")
    parser.add_argument("--drain", action="store_true", help="then run the jobs: their CPU")
    parser.add_argument("--slow", type=int, default=0, help="print the slowest N webhooks")
    parser.add_argument(
        "--runner",
        action="store_true",
        help="run the jobs in the same process meanwhile (as SQLite's serve does)",
    )
    parser.add_argument("--profile", default=None, help="write a cProfile of the webhooks")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
