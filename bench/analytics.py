"""Analytics benchmark (issue 13): reports read rollups, never the messages table.

For each size it loads M messages in M/10 conversations over 90 days into a fresh PostgreSQL
database with COPY (conversations, messages, and the event log they would have written), then:
- rebuilds the rollups from the event log (`frontdesk analytics backfill`), timed;
- measures p50/p99 of each dashboard and report request (the reports page as an admin, and
  every /api/v1/reports/... endpoint as an admin and as an agent who sees a third of the
  inboxes), in-process over ASGI;
- measures the rollup lag: with the follower running (as in every process that runs jobs),
  a burst of 10,000 new messages (1,000 conversations) is committed at once; the lag is the
  time from that commit until the rollups include all of it.
With two sizes or more it prints the ratio of each request's p99 at the largest size to the
smallest. Usage: python bench/analytics.py [--messages 10000,1000000] [--requests 60]
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/analytics.py` puts bench/ first on the path, where email.py would shadow the
# stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.analytics import service
from frontdesk.analytics.follower import follow
from frontdesk.app import create_app
from frontdesk.auth import repository as auth_repository
from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate, TeamCreate
from frontdesk.config import Settings
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

PG_SERVER = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
CHANNELS = ("email", "webchat", "sms", "whatsapp", "telegram", "messenger", "instagram", "api")
TEAMS, AGENTS_PER_TEAM, TAGS = 3, 5, ("vip", "refund", "delivery", "bug", "billing")
PER_CONVERSATION = 10
DAYS = 90
NOW = datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def organisation(runtime: Runtime) -> dict[str, object]:
    """Teams, agents, one inbox per channel (teams serve a third each), an agent's token."""
    async with runtime.db.session() as session:
        admin = await auth.create_agent(
            session, AgentCreate(email="admin@bench.test", name="Admin", password="bench-pass-1",
                                 role="admin"), cost=runtime.settings.password_cost)  # fmt: skip
        agents, teams = [], []
        for t in range(TEAMS):
            members = []
            for a in range(AGENTS_PER_TEAM):
                agent = await auth.create_agent(
                    session, AgentCreate(email=f"a{t}{a}@bench.test", name=f"Agent {t}{a}",
                                         password="bench-pass-1", role="agent"),
                    cost=runtime.settings.password_cost,
                )  # fmt: skip
                members.append(agent.id)
            team = await auth.create_team(session, TeamCreate(name=f"Team {t}", agent_ids=members))
            teams.append(team.id)
            agents.append(members)
        boxes = []
        for index, channel in enumerate(CHANNELS):
            inbox = await inboxes.create_inbox(
                session,
                InboxCreate(channel="api", name=f"{channel} inbox",
                            team_ids=[teams[index % TEAMS]]),
                runtime.settings,
            )  # fmt: skip
            boxes.append(inbox.id)
        admin_token = await auth.issue_token(session, admin)
        first = await auth_repository.get_agent(session, agents[0][0])
        assert first is not None
        agent_token = await auth.issue_token(session, first)
        await uow.commit(session)
    return {"teams": teams, "agents": agents, "inboxes": boxes, "admin": admin_token,
            "agent": agent_token}  # fmt: skip


def _copy(conn: psycopg.Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(
    url: str, org: dict, messages: int, *, first_id: int, seed: int, recent: bool
) -> tuple[int, float]:
    """COPY `messages` messages in messages/10 conversations (and their events) in one
    transaction; returns the number of conversations and the moment it committed.
    `recent`: all in the last hour (the burst)."""
    rng = random.Random(seed)
    conversations = max(1, messages // PER_CONVERSATION)
    teams, agents, boxes = org["teams"], org["agents"], org["inboxes"]
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        customers = [(f"Customer {first_id + i}", "{}", NOW, NOW) for i in range(conversations)]
        _copy(conn, "customers", ["name", "attributes", "created_at", "updated_at"], customers)
        base_customer = conn.execute("SELECT max(id) FROM customers").fetchone()[0] - conversations
        conv_rows, msg_rows, event_rows, tag_rows = [], [], [], []
        for i in range(conversations):
            cid = first_id + i
            box = rng.randrange(len(boxes))
            inbox, channel, team_index = boxes[box], CHANNELS[box], box % TEAMS
            customer = base_customer + 1 + i
            opened = (NOW - timedelta(minutes=rng.uniform(1, 60)) if recent
                      else NOW - timedelta(days=rng.uniform(0, DAYS)))  # fmt: skip
            agent = rng.choice(agents[team_index]) if rng.random() < 0.9 else None
            at = opened
            event_rows.append(("conversation.created", at, inbox, cid, customer,
                               json.dumps({"conversation_id": cid, "status": "open"})))  # fmt: skip
            for m in range(PER_CONVERSATION):
                inbound = m % 2 == 0
                at = at + timedelta(seconds=rng.randint(20, 3600))
                author = "customer" if inbound else "agent"
                direction = "inbound" if inbound else "outbound"
                payload = {"conversation_id": cid, "direction": direction,
                           "author_kind": author, "channel": channel, "text": "hello"}  # fmt: skip
                msg_rows.append((cid, inbox, customer, channel, payload["direction"], author,
                                 None if inbound else agent, "hello", "delivered", not inbound,
                                 "{}", at, at))  # fmt: skip
                event_rows.append(
                    ("message.created", at, inbox, cid, customer, json.dumps(payload))
                )
            status = "open"
            if rng.random() < 0.8 and not recent:
                status = "resolved"
                event_rows.append(("conversation.status_changed", at + timedelta(minutes=5), inbox,
                                   cid, customer,
                                   json.dumps({"conversation_id": cid, "from": "open",
                                               "to": "resolved"})))  # fmt: skip
            conv_rows.append((cid, inbox, customer, status, "normal", teams[team_index], agent,
                              opened, at, at))  # fmt: skip
            if rng.random() < 0.3:
                tag_rows.append((cid, rng.randint(1, len(TAGS))))
        _copy(conn, "conversations", ["id", "inbox_id", "customer_id", "status", "priority",
              "team_id", "assignee_id", "created_at", "updated_at", "last_message_at"],
              conv_rows)  # fmt: skip
        _copy(conn, "messages", ["conversation_id", "inbox_id", "customer_id", "channel",
              "direction", "author_kind", "author_agent_id", "text", "delivery_status",
              "answered", "meta", "sent_at", "created_at"], msg_rows)  # fmt: skip
        _copy(conn, "conversation_tags", ["conversation_id", "tag_id"], tag_rows)
        # The log in time order, as the application would have written it.
        event_rows.sort(key=lambda row: row[1])
        _copy(conn, "events", ["type", "at", "inbox_id", "conversation_id", "customer_id",
              "payload"], event_rows)  # fmt: skip
        conn.execute("SELECT setval(pg_get_serial_sequence('conversations', 'id'), "
                     "(SELECT max(id) FROM conversations))")  # fmt: skip
        conn.commit()
        committed = time.perf_counter()
        if not recent:
            conn.execute("ANALYZE")
    return conversations, committed


def fresh(name: str) -> str:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    upgrade(url)
    with psycopg.connect(f"{PG_SERVER}/{name}", autocommit=True) as conn:
        for tag in TAGS:
            conn.execute("INSERT INTO tags (name) VALUES (%s)", (tag,))
    return url


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def log_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = await client.post("/login", data={"email": "admin@bench.test",
                               "password": "bench-pass-1", "csrf": csrf.group(1)})  # fmt: skip
    assert answer.status_code == 303, answer.text


async def requests(app: object, org: dict, count: int) -> dict[str, tuple[float, float, float]]:
    """p50/p99 in ms of each dashboard and report request, and the 1-minute load average
    just after its samples."""
    period = {"start": (NOW - timedelta(days=28)).date().isoformat()}
    quarter = {"start": (NOW - timedelta(days=DAYS)).date().isoformat()}
    admin = {"Authorization": f"Bearer {org['admin']}"}
    agent = {"Authorization": f"Bearer {org['agent']}"}
    cases = [
        # Not a report: the cost of any authenticated API request on this machine, to read
        # the others against.
        ("baseline GET /api/v1/inboxes", "/api/v1/inboxes", {}, admin),
        ("page /reports (admin, 28 d)", "/reports", period, None),
        ("summary (admin, 28 d)", "/api/v1/reports/summary", period, admin),
        ("summary (admin, 90 d)", "/api/v1/reports/summary", quarter, admin),
        ("summary (agent, 28 d)", "/api/v1/reports/summary", period, agent),
        ("summary (admin, tag vip)", "/api/v1/reports/summary", {**period, "tag": "vip"}, admin),
        ("timeseries day (admin, 90 d)", "/api/v1/reports/timeseries", quarter, admin),
        ("breakdown channel", "/api/v1/reports/breakdown", {**period, "by": "channel"}, admin),
        ("breakdown agent", "/api/v1/reports/breakdown", {**period, "by": "agent"}, admin),
        ("breakdown tag", "/api/v1/reports/breakdown", {**period, "by": "tag"}, admin),
        ("FRT histogram", "/api/v1/reports/first-response-histogram", period, admin),
        ("heat map (90 d)", "/api/v1/reports/heatmap", quarter, admin),
        ("CSV breakdown inbox", "/api/v1/reports/export.csv", {**period, "by": "inbox"}, admin),
    ]
    found: dict[str, tuple[float, float, float]] = {}
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await log_in(client)
        for name, path, params, headers in cases:
            samples = []
            for attempt in range(count + 3):
                started = time.perf_counter()
                answer = await client.get(path, params=params, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
                if attempt >= 3:  # warm-up
                    samples.append(elapsed)
            found[name] = (statistics.median(samples), percentile(samples, 0.99),
                           os.getloadavg()[0])  # fmt: skip
    return found


async def lag(runtime: Runtime, url: str, org: dict, first_id: int) -> float:
    """Seconds from committing a burst of 10,000 messages until the rollups hold them."""
    follower = asyncio.create_task(follow(runtime.db, 0.2))
    try:
        _, committed = await asyncio.to_thread(
            load, url, org, 10_000, first_id=first_id, seed=7, recent=True
        )
        while True:
            async with runtime.db.session() as session:
                behind = await service.lag(session)
            if behind == 0:
                return time.perf_counter() - committed
            await asyncio.sleep(0.05)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower


def _exists(name: str) -> bool:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


async def one_size(
    messages: int, count: int, keep: str | None, rebuild: bool = False
) -> dict[str, object]:
    """keep: a database name prefix; the loaded database is kept (not dropped) and a later
    run with the same prefix reuses it (migrated to head, not reloaded): for profiling.
    rebuild: on a reused database, time a backfill and a 10,000-message burst's lag too."""
    name = f"{keep}_{messages}" if keep else f"frontdesk_bench_analytics_{os.getpid()}_{messages}"
    org_file = Path(tempfile.gettempdir()) / f"{name}.org.json"
    reuse = bool(keep) and _exists(name) and org_file.exists()
    if reuse:
        url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
        upgrade(url)
    else:
        url = fresh(name)
    workdir = Path(tempfile.mkdtemp(prefix="fd-bench-analytics-"))
    settings = Settings(env="development", data_dir=workdir, database_url=url,
                        analytics_poll_seconds=0, password_time_cost=1,
                        password_memory_kib=1024)  # fmt: skip
    runtime = Runtime.build(settings, with_runner=False)
    await runtime.start()
    from sqlalchemy import text

    try:
        if reuse:
            org = json.loads(org_file.read_text())
            loaded = backfill = 0.0
            async with runtime.db.session() as session:
                conversations = int(await session.scalar(text("SELECT max(id) FROM conversations")))
                events = int(await session.scalar(text("SELECT count(*) FROM events")))
            if rebuild:
                started = time.perf_counter()
                events = await service.backfill(runtime.db)
                backfill = time.perf_counter() - started
        else:
            org = await organisation(runtime)
            started = time.perf_counter()
            conversations, _ = await asyncio.to_thread(
                load, url, org, messages, first_id=1, seed=13, recent=False
            )
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            events = await service.backfill(runtime.db)
            backfill = time.perf_counter() - started
            with psycopg.connect(f"{PG_SERVER}/{name}", autocommit=True) as conn:
                conn.execute("ANALYZE")  # as autovacuum would soon after
            if keep:
                org_file.write_text(json.dumps(org))
        async with runtime.db.session() as session:
            rows = await session.scalar(text("SELECT count(*) FROM analytics_hourly"))
        app = create_app(settings, runtime=runtime)
        timings = await requests(app, org, count)
        burst = 0.0
        if rebuild or not reuse:
            burst = await lag(runtime, url, org, first_id=conversations + 1)
        return {"messages": messages, "conversations": conversations, "load_s": loaded,
                "events": events, "backfill_s": backfill, "rollup_rows": rows,
                "requests": timings, "lag_s": burst}  # fmt: skip
    finally:
        await runtime.stop()
        if not keep:
            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(results: list[dict[str, object]]) -> None:
    for result in results:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"== {result['messages']:,} messages, {result['conversations']:,} conversations, "
              f"{result['events']:,} events -> {result['rollup_rows']:,} rollup rows")  # fmt: skip
        print(f"load average at the end: {load}")
        print(f"load (COPY): {result['load_s']:.1f} s   backfill: {result['backfill_s']:.1f} s   "
              f"rollup lag after a 10,000-message burst: {result['lag_s']:.2f} s")  # fmt: skip
        for name, (p50, p99, load1) in result["requests"].items():  # type: ignore[attr-defined]
            print(f"  {name:32s} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   load {load1:5.2f}")
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"== p99 ratio {large['messages']:,} / {small['messages']:,} messages")
        worst = 0.0
        for name, (_, p99, _) in large["requests"].items():  # type: ignore[attr-defined]
            if name.startswith("baseline"):
                continue
            ratio = p99 / small["requests"][name][1]  # type: ignore[index]
            worst = max(worst, ratio)
            print(f"  {name:32s} x{ratio:.2f}")
        print(f"worst_p99_ratio={worst:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", default="10000,1000000",
                        help="comma-separated sizes (messages), smallest first")  # fmt: skip
    parser.add_argument("--requests", type=int, default=60, help="samples per request")
    parser.add_argument("--keep", metavar="PREFIX",
                        help="keep each size's database as PREFIX_<size> and reuse it when it "
                             "exists (no reload, no backfill, no lag run)")  # fmt: skip
    parser.add_argument("--rebuild", action="store_true",
                        help="with --keep: also time a backfill and the lag on the reused "
                             "databases (each run adds a 10,000-message burst)")  # fmt: skip
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.messages.split(","))
    results = []
    for size in sizes:
        results.append(await one_size(size, args.requests, args.keep, args.rebuild))
        report(results[-1:])
        sys.stdout.flush()
    if len(results) > 1:
        report(results)


if __name__ == "__main__":
    asyncio.run(main())
