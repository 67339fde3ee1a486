"""Voice webhooks' server CPU, step by step, in one process: the ASGI app is driven directly
(no sockets, no uvicorn) with the signed requests of bench/voice.py, one call after another
(--calls at once: that many in lock-step), and each step's CPU time (time.process_time
around the app, SQLite's thread included), SQL statements and transactions are counted.
Jobs do not run while the webhooks are measured; --jobs then drains them with a job runner
and prints their CPU per call. --profile FILE writes a cProfile of the webhooks.

A working tool, not a benchmark of latency: the figures are CPU per webhook of the server's
own code, so they hold on a loaded machine (run it niced), and add up to what one core can
take (1 / CPU per webhook = webhooks a second).

Usage: python bench/voice_cpu.py [--n 200] [--calls 1] [--database-url postgresql+psycopg://...]
       [--jobs] [--profile voice.prof]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/voice_cpu.py` puts bench/ first on the path, where email.py would shadow
# the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import cProfile
import importlib.util
import secrets
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from sqlalchemy import event, func, select

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.app import create_app
from frontdesk.config import Settings
from frontdesk.kit.jobs import Job, JobRunner
from frontdesk.kit.twilio import signature
from frontdesk.migrate import upgrade

_spec = importlib.util.spec_from_file_location("bench_voice", Path(__file__).parent / "voice.py")
assert _spec is not None and _spec.loader is not None
voice = importlib.util.module_from_spec(_spec)
sys.modules["bench_voice"] = voice
_spec.loader.exec_module(voice)


class Meter:
    """CPU, statements and commits per step; valid while one request runs at a time, or
    summed over a wave of requests of the same step (--calls)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.step = "setup"
        self.cpu: dict[str, float] = defaultdict(float)
        self.count: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self.commits: Counter[str] = Counter()
        self.sql: Counter[tuple[str, str]] = Counter()

    def listen(self, engine: Any) -> None:
        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _statement(*args: Any) -> None:
            self.statements[self.step] += 1
            self.sql[(self.step, " ".join(str(args[2]).split())[:110])] += 1

        @event.listens_for(engine.sync_engine, "commit")
        def _commit(*args: Any) -> None:
            self.commits[self.step] += 1


class Caller:
    def __init__(self, client: httpx.AsyncClient, hook: str, number: str) -> None:
        self.client = client
        self.hook = hook
        self.number = number
        self.sid = "CA" + secrets.token_hex(16)
        self.twiml: ET.Element | None = None

    async def post(self, url: str, **extra: str) -> None:
        params = {
            "AccountSid": voice.ACCOUNT_SID, "CallSid": self.sid, "From": self.number,
            "To": voice.OUR_NUMBER, "Direction": "inbound", "CallStatus": "in-progress", **extra,
        }  # fmt: skip
        headers = {
            "X-Twilio-Signature": signature(voice.AUTH_TOKEN, url, params.items()),
            "content-type": "application/x-www-form-urlencoded",
        }
        response = await self.client.post(url, content=urlencode(params).encode(), headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        if response.headers["content-type"].startswith("text/xml"):
            self.twiml = ET.fromstring(response.text)

    def find(self, path: str) -> ET.Element:
        assert self.twiml is not None
        found = self.twiml.find(path)
        if found is None:
            raise RuntimeError(f"no {path} in {ET.tostring(self.twiml).decode()[:300]}")
        return found


# Webhooks of one call in bench/voice.py: eight steps, the recording callback twice for 10 %.
WEBHOOKS_PER_CALL = 8.1
STEPS = ("incoming", "language", "menu", "wait", "agent-leg", "dialed", "recording", "status")


class Timed:
    """The app, timed: CPU from the first request in flight to the last one out (with one
    request at a time, the server's own CPU; in a wave, the client's parsing of the answers
    that come back meanwhile is counted too)."""

    def __init__(self, app: Any, meter: Meter) -> None:
        self.app = app
        self.meter = meter
        self.state = app.state
        self.depth = 0
        self.since = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.depth == 0:
            self.since = time.process_time()
        self.depth += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.depth -= 1
            if self.depth == 0:
                self.meter.cpu[self.meter.step] += time.process_time() - self.since


async def run_step(meter: Meter, step: str, works: list[Any]) -> None:
    meter.step = step
    await asyncio.gather(*works)
    meter.count[step] += len(works)
    meter.step = "between"


ANSWER = "answer (API)"


async def wave(meter: Meter, client: httpx.AsyncClient, hook: str, token: str, first: int,
               size: int, provider_url: str, provider: Any) -> None:  # fmt: skip
    callers = [Caller(client, hook, f"+9715{first + i:08d}") for i in range(size)]
    await run_step(meter, "incoming", [c.post(hook, CallStatus="ringing") for c in callers])
    await run_step(meter, "language", [
        c.post(c.find("Gather").get("action") or "", Digits=str((first + i) % 3 + 1))
        for i, c in enumerate(callers)
    ])  # fmt: skip
    await run_step(meter, "menu", [
        c.post(c.find("Gather").get("action") or "", Digits=str((first + i) % 2 + 1))
        for i, c in enumerate(callers)
    ])  # fmt: skip
    meter.step = ANSWER
    for c in callers:  # the agent takes each call (an API request, not a webhook)
        message_id = await message_of(client, c.sid)
        answer = await client.post(
            f"/api/v1/calls/{message_id}/answer", headers={"authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
    await run_step(
        meter, "wait", [c.post((c.find("Redirect").text or "").strip()) for c in callers]
    )
    dials = [(c.find("Dial"), c.find("Dial/Client")) for c in callers]
    await run_step(meter, "agent-leg", [
        c.post(leg.get("statusCallback") or "", ParentCallSid=c.sid,
               CallSid="CA" + secrets.token_hex(16))
        for c, (_, leg) in zip(callers, dials, strict=True)
    ])  # fmt: skip
    await run_step(meter, "dialed", [
        c.post(dial.get("action") or "", DialCallStatus="completed", DialCallDuration="95")
        for c, (dial, _) in zip(callers, dials, strict=True)
    ])  # fmt: skip
    recs = []
    for i, (c, (dial, _)) in enumerate(zip(callers, dials, strict=True)):
        rec = "RE" + secrets.token_hex(16)
        provider.recordings[rec] = voice.AUDIO
        url = f"{provider_url}/2010-04-01/Accounts/{voice.ACCOUNT_SID}/Recordings/{rec}"
        for _ in range(2 if (first + i) % 10 == 0 else 1):
            recs.append(c.post(dial.get("recordingStatusCallback") or "", RecordingSid=rec,
                               RecordingUrl=url, RecordingStatus="completed",
                               RecordingDuration="95"))  # fmt: skip
    await run_step(meter, "recording", recs)
    await run_step(meter, "status", [
        c.post(hook + "/status", CallStatus="completed", CallDuration="120") for c in callers
    ])  # fmt: skip


_MESSAGES: dict[str, int] = {}


async def message_of(client: httpx.AsyncClient, sid: str) -> int:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    async with app.state.runtime.db.session() as session:
        found = await session.scalar(
            select(voice.VoiceCall.message_id).where(voice.VoiceCall.call_sid == sid)
        )
        await session.rollback()
    assert found is not None
    return int(found)


async def drain_jobs(settings: Settings, app: Any) -> tuple[float, int, Counter[str]]:
    """Run the queued jobs to the end; (CPU-s, jobs run, jobs by kind)."""
    db = app.state.runtime.db
    async with db.session() as session:
        kinds = Counter(
            dict((await session.execute(select(Job.kind, func.count()).group_by(Job.kind))).all())
        )
        await session.rollback()
    runner = JobRunner(db, settings)
    before = time.process_time()
    task = asyncio.create_task(runner.run())
    while True:
        await asyncio.sleep(0.2)
        async with db.session() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.state.in_(("available", "running")), Job.run_at <= func.now())
            )
            await session.rollback()
        if not left:
            break
    cpu = time.process_time() - before
    await runner.stop()
    task.cancel()
    return cpu, sum(kinds.values()), kinds


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fd-voice-cpu-"))
    url = voice.fresh_database(args.database_url, workdir)
    provider = voice.FakeProvider()
    port = voice.free_port()
    provider_url = f"http://127.0.0.1:{port}"
    fake = uvicorn.Server(uvicorn.Config(provider.app, host="127.0.0.1", port=port,
                                         log_level="warning"))  # fmt: skip
    fake_task = asyncio.create_task(fake.serve())
    try:
        upgrade(url)
        settings = Settings(
            env="development", data_dir=workdir, database_url=url, base_url="http://bench",
            allow_private_webhooks=True, secret_key=secrets.token_hex(32),
        )  # fmt: skip
        hook, token = await voice.prepare(settings, provider_url)
        app: Any = create_app(settings, with_runner=False)
        meter = Meter()
        async with app.router.lifespan_context(app):
            for engine in app.state.runtime.db.engines:  # the group commits' pool too
                meter.listen(engine)
            transport = httpx.ASGITransport(app=Timed(app, meter))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await wave(meter, client, hook, token, 10_000, 3, provider_url, provider)  # warm
                meter.reset()
                profiler = cProfile.Profile(time.process_time) if args.profile else None
                if profiler:
                    profiler.enable()
                for first in range(0, args.n, args.calls):
                    await wave(meter, client, hook, token, first, min(args.calls, args.n - first),
                               provider_url, provider)  # fmt: skip
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
            report(meter, args)
            if args.jobs:
                jobs_profiler = cProfile.Profile(time.process_time) if args.profile else None
                if jobs_profiler:
                    jobs_profiler.enable()
                meter.step = "jobs"
                cpu, ran, kinds = await drain_jobs(settings, app)
                if jobs_profiler:
                    jobs_profiler.disable()
                    jobs_profiler.dump_stats(args.profile + ".jobs")
                print(f"jobs: {ran} queued in all (warm-up included), drained in {cpu:.2f} "
                      f"CPU-s: {cpu / (args.n + 3) * 1000:.2f} ms per call (the fake "
                      "provider's side of the recordings' GET and DELETE included), "
                      f"{cpu / (args.n + 3) / WEBHOOKS_PER_CALL * 1000:.2f} ms per "
                      "webhook")  # fmt: skip
                for kind, n in kinds.most_common():
                    print(f"    {kind:<32} {n}")
                print(f"  {meter.statements['jobs'] / (args.n + 3):.1f} statements per call:")
                if args.sql:
                    jobs_sql = [(n, sql) for (step, sql), n in meter.sql.items() if step == "jobs"]
                    for n, sql in sorted(jobs_sql, reverse=True)[:25]:
                        print(f"    {n / (args.n + 3):5.2f}  {sql}")
    finally:
        fake.should_exit = True
        await fake_task
        voice.drop_database(url)


def report(meter: Meter, args: argparse.Namespace) -> None:
    statements, commits = meter.statements, meter.commits
    total_cpu = sum(meter.cpu[s] for s in STEPS)
    total_n = sum(meter.count[s] for s in STEPS)
    print(f"voice_cpu: {args.n} calls, {args.calls} at once, "
          f"{'postgresql' if args.database_url else 'sqlite'}; load {voice.load()}")  # fmt: skip
    print(f"  {'step':<10} {'n':>5} {'CPU ms':>8} {'stmts':>6} {'commits':>7}  (per webhook)")
    for step in STEPS:
        n = meter.count[step] or 1
        print(f"  {step:<10} {meter.count[step]:>5} {meter.cpu[step] / n * 1000:8.2f} "
              f"{statements.get(step, 0) / n:6.1f} {commits.get(step, 0) / n:7.2f}")  # fmt: skip
    print(f"  {'all':<10} {total_n:>5} {total_cpu / total_n * 1000:8.2f} "
          f"{sum(statements.get(s, 0) for s in STEPS) / total_n:6.1f} "
          f"{sum(commits.get(s, 0) for s in STEPS) / total_n:7.2f}")  # fmt: skip
    answer, calls = ANSWER, meter.count["incoming"] or 1
    print(f"  {answer}: {meter.cpu[answer] / calls * 1000:.2f} ms CPU, "
          f"{statements.get(answer, 0) / calls:.1f} statements, "
          f"{commits.get(answer, 0) / calls:.2f} commits per call (the agent's API call, not a "
          f"webhook; {meter.cpu[answer] / total_n * 1000:.2f} ms per webhook)")  # fmt: skip
    if args.sql:
        for (step, sql), n in sorted(meter.sql.items()):
            if step in STEPS:
                print(f"    {step:<10} {n / (meter.count[step] or 1):5.2f}  {sql}")
            elif step == ANSWER:
                print(f"    {'answer':<10} {n / (meter.count['incoming'] or 1):5.2f}  {sql}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="calls")
    parser.add_argument("--calls", type=int, default=1, help="calls at once (lock-step)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--jobs", action="store_true", help="then drain the jobs, CPU per call")
    parser.add_argument("--sql", action="store_true", help="list the statements of each step")
    parser.add_argument("--profile", default=None, help="write a cProfile of the webhooks")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
