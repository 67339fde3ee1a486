"""Desk benchmark: the agent desktop's pages at scale, on PostgreSQL.

For each size (10,000 messages, then `--messages`, 1,000,000 by default) a fresh database is
migrated, the demo organisation seeded (`frontdesk seed`, with its weeks of history), and
generated data bulk-loaded with COPY (not the service path): customers with an e-mail
identity, conversations of ten messages each spread over the demo's inboxes and statuses,
with tags, in English, Arabic and Persian; one message in twenty names an order number.

Measured in-process (the ASGI app, no network: the server's time), logged in as the demo
admin: the three-pane workspace (`/`, open conversations), a conversation opened in it on a
full page load and as the pane the list swaps in (htmx, HX-Target fd-pane), a customer page,
a search for an order number (`/?q=ORD-…&status=`) and a customers directory search
(`/customers?q=bench…`), p50/p99 over `--requests` requests each, the SQL statements one
page runs, and the CPU time this process spends per request (time.process_time: Python,
templates and the driver, not PostgreSQL's own; the figure to trust on a loaded machine); for
the slowest request of each page, its time in SQL and in the garbage collector.
Prints the large/small p99 ratio per page, and the two dearest statements of each.

Usage: python bench/desk.py [--messages 1000000] [--small 10000] [--requests 200]
       [--pg-server postgresql://postgres@127.0.0.1:5432]
Environment: FRONTDESK_BENCH_DB_PREFIX names the databases (`<prefix>_<messages>`, default
`desk-bench`); FRONTDESK_BENCH_KEEP=1 keeps them after the run and measures a kept one again
without reloading it; FRONTDESK_BENCH_PROFILE=<dir> writes a cProfile of each page there.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python bench/desk.py` puts bench/ first on the path, where email.py would shadow the stdlib.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import cProfile
import gc
import json
import os
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from sqlalchemy import event, select

import frontdesk.handlers  # noqa: F401  (job handlers and channels)
from frontdesk.app import create_app
from frontdesk.config import Settings
from frontdesk.conversations.models import message_search_key
from frontdesk.customers.models import customer_search_key
from frontdesk.inboxes.models import Inbox
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime
from frontdesk.seed import DEMO_AGENTS, seed

PER_CONVERSATION = 10
PER_CUSTOMER = 2  # conversations per customer
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
WORDS = {
    "en": [
        "parcel",
        "order",
        "refund",
        "delivery",
        "invoice",
        "tracking",
        "broken",
        "screen",
        "charge",
        "account",
        "password",
        "address",
        "shipping",
        "late",
        "missing",
        "wrong",
        "size",
        "colour",
        "return",
        "exchange",
        "card",
        "payment",
    ],
    "ar": [
        "طلب",
        "شحنة",
        "استرداد",
        "فاتورة",
        "تتبع",
        "كلمة",
        "المرور",
        "عنوان",
        "متأخر",
        "مفقود",
        "بطاقة",
        "دفع",
        "حساب",
    ],
    "fa": [
        "سفارش",
        "بسته",
        "بازپرداخت",
        "فاکتور",
        "رهگیری",
        "گذرواژه",
        "نشانی",
        "دیر",
        "گم",
        "کارت",
        "پرداخت",
        "حساب",
    ],
}
STATUSES = ["open"] * 3 + ["pending", "resolved", "resolved", "closed"]
TAGS = ["vip", "billing", "shipping", "bug", "refund"]
KEPT = "frontdesk desk bench, orders "  # the comment on a kept database


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _copy(conn: psycopg.Connection[Any], table: str, columns: list[str], rows: Any) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def bulk_load(
    dsn: str, messages: int, inboxes: list[tuple[int, str]], seed_value: int
) -> tuple[int, int]:
    """COPY the generated customers, identities, conversations, tags and messages; returns
    the range of the order numbers the messages name."""
    rng = random.Random(seed_value)
    conversations = max(1, messages // PER_CONVERSATION)
    customers = max(1, conversations // PER_CUSTOMER)
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn:
        base = {
            table: int(conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in ("customers", "conversations", "tags")
        }
        _copy(
            conn,
            "customers",
            ["id", "name", "attributes", "search_key", "created_at", "updated_at"],
            (
                (base["customers"] + i, name, "{}",
                 customer_search_key(name, [f"bench{i}@example.com"], {}), now, now)
                for i in range(1, customers + 1)
                for name in [f"Customer {i} {rng.choice(WORDS['en'])}"]
            ),
        )  # fmt: skip
        _copy(
            conn,
            "identities",
            ["customer_id", "kind", "address", "created_at"],
            (
                (base["customers"] + i, "email", f"bench{i}@example.com", now)
                for i in range(1, customers + 1)
            ),
        )
        tag_ids = []
        for offset, name in enumerate(TAGS, start=1):
            tag_ids.append(base["tags"] + offset)
            conn.execute(
                "INSERT INTO tags (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (base["tags"] + offset, f"bench-{name}"),
            )
        plan = []
        for i in range(1, conversations + 1):
            inbox_id, channel = inboxes[i % len(inboxes)]
            last = now - timedelta(minutes=conversations - i + rng.randint(0, 50))
            plan.append(
                (
                    base["conversations"] + i,
                    inbox_id,
                    channel,
                    base["customers"] + 1 + (i - 1) // PER_CUSTOMER,
                    last,
                )
            )
        _copy(
            conn,
            "conversations",
            ["id", "inbox_id", "customer_id", "status", "priority", "subject", "created_at",
             "updated_at", "last_message_at", "sort_at"],
            (
                (cid, inbox, customer, rng.choice(STATUSES), "normal",
                 f"Question {cid}" if channel == "email" else None,
                 last - timedelta(hours=1), last, last, last)
                for cid, inbox, channel, customer, last in plan
            ),
        )  # fmt: skip
        _copy(
            conn,
            "conversation_tags",
            ["conversation_id", "tag_id"],
            ((cid, rng.choice(tag_ids)) for cid, *_ in plan if rng.random() < 0.3),
        )
        conn.execute("ALTER TABLE messages DISABLE TRIGGER ALL")
        conn.execute("DROP INDEX IF EXISTS ix_messages_search")
        first_order = 100_000
        order = first_order

        def rows() -> Any:
            nonlocal order
            for cid, inbox, channel, customer, last in plan:
                lang = rng.choice(("en", "en", "ar", "fa"))
                for k in range(PER_CONVERSATION):
                    text = " ".join(rng.choices(WORDS[lang], k=rng.randint(6, 20)))
                    if rng.random() < 0.05:
                        order += 1
                        text += f" ORD-{order}"
                    inbound = k % 2 == 0
                    yield (
                        cid, inbox, customer, channel, "inbound" if inbound else "outbound",
                        "customer" if inbound else "agent", text, message_search_key(text),
                        "received" if inbound else "delivered", not inbound, "{}",
                        last - timedelta(minutes=PER_CONVERSATION - k),
                    )  # fmt: skip

        _copy(
            conn,
            "messages",
            ["conversation_id", "inbox_id", "customer_id", "channel", "direction", "author_kind",
             "text", "search_key", "delivery_status", "answered", "meta", "created_at"],
            rows(),
        )  # fmt: skip
        conn.execute("ALTER TABLE messages ENABLE TRIGGER ALL")
        conn.execute(  # as migration 0036 has it (dropped for the load, built once after)
            "CREATE INDEX ix_messages_search ON messages"
            " USING gin (to_tsvector('simple', search_key))"
        )
        for table in ("customers", "conversations", "tags"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return first_order, order


class SqlClock:
    """The time a request spends in SQL statements (from sending one to its result), so the
    database's share can be told from Python's (templates) on a loaded machine."""

    def __init__(self) -> None:
        self.total = 0.0
        self.started = 0.0
        self.costs: dict[str, list[float]] = {}  # statement → its durations (ms)

    def before(self, *_: object) -> None:
        self.started = time.perf_counter()

    def after(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        took = time.perf_counter() - self.started
        self.total += took
        self.costs.setdefault(" ".join(statement.split())[:90], []).append(took * 1000)

    def dearest(self) -> list[tuple[float, str]]:
        """The two statements with the highest p99."""
        found = sorted(((percentile(v, 0.99), k) for k, v in self.costs.items()), reverse=True)
        return found[:2]


class GcClock:
    """The time the cyclic garbage collector pauses the process during a request (a request's
    tail may be a collection, not its own work)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.started = 0.0

    def callback(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self.started


def _counter(seen: list[int]) -> Any:
    def count(*_: object) -> None:
        seen.append(1)

    return count


async def measure(
    runtime: Runtime, label: str, orders: tuple[int, int], requests: int
) -> dict[str, tuple[float, ...]]:
    app = create_app(runtime.settings, runtime=runtime)
    rng = random.Random(7)
    transport = httpx.ASGITransport(app=app)
    # The app's own start-up, as `frontdesk serve` runs it (the runtime is already started):
    # ASGITransport does not run the lifespan.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
    ):
        page = await http.get("/login")
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        email, _, _, password, _ = DEMO_AGENTS[0]
        login = await http.post("/login", data={"email": email, "password": password, "csrf": csrf})
        assert login.status_code == 303, login.text
        dsn = runtime.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            max_conversation, max_customer, generated = conn.execute(
                "SELECT (SELECT max(id) FROM conversations), (SELECT max(id) FROM customers),"
                " (SELECT count(*) FROM identities WHERE address LIKE 'bench%@example.com')"
            ).fetchone()  # type: ignore[misc]
        first_order, last_order = orders

        def conversation() -> str:
            return f"/conversations/{rng.randint(max_conversation // 2, max_conversation)}"

        pages: dict[str, Any] = {
            "inbox list": lambda: "/",
            "conversation": conversation,
            "pane": conversation,
            "customer": lambda: f"/customers/{rng.randint(max_customer // 2, max_customer)}",
            "search": lambda: (
                f"/?status=&q=ORD-{rng.randint(first_order + 1, max(first_order + 1, last_order))}"
            ),
            # The generated customers are `bench<i>@example.com`, i from 1 (see bulk_load).
            "customers q": lambda: f"/customers?q=bench{rng.randint(1, generated)}@",
        }
        pane = {"hx-request": "true", "hx-target": "fd-pane"}
        # FRONTDESK_BENCH_PROFILE=<dir>: cProfile each page's measured requests into <dir>.
        profile = os.environ.get("FRONTDESK_BENCH_PROFILE")
        results: dict[str, tuple[float, ...]] = {}
        engine = runtime.db.engine.sync_engine
        for name, url in pages.items():
            headers = pane if name == "pane" else {}
            profiler = cProfile.Profile() if profile else None
            for _ in range(5):  # warm the caches and the pool
                await http.get(url(), headers=headers)
            seen: list[int] = []
            count = _counter(seen)
            event.listen(engine, "before_cursor_execute", count)
            response = await http.get(url(), headers=headers)
            event.remove(engine, "before_cursor_execute", count)
            assert response.status_code == 200, (name, response.status_code, response.text[:300])
            if name == "customers q":  # the search finds its customer (not an empty page)
                assert "@example.com" in response.text, response.text[-500:]
            timings, in_sql, cpu, paused = [], [], [], []
            clock = SqlClock()
            gc_clock = GcClock()
            gc.callbacks.append(gc_clock.callback)
            event.listen(engine, "before_cursor_execute", clock.before)
            event.listen(engine, "after_cursor_execute", clock.after)
            for _ in range(requests):
                target = url()
                clock.total = gc_clock.total = 0.0
                started, used = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                response = await http.get(target, headers=headers)
                if profiler is not None:
                    profiler.disable()
                cpu.append((time.process_time() - used) * 1000)
                timings.append((time.perf_counter() - started) * 1000)
                in_sql.append(clock.total * 1000)
                paused.append(gc_clock.total * 1000)
                assert response.status_code == 200, (target, response.status_code)
            gc.callbacks.remove(gc_clock.callback)
            event.remove(engine, "before_cursor_execute", clock.before)
            event.remove(engine, "after_cursor_execute", clock.after)
            if profiler is not None:
                profiler.dump_stats(
                    Path(profile) / f"{label.split()[0]}-{name.replace(' ', '_')}.prof"
                )
            results[name] = (
                percentile(timings, 0.5),
                percentile(timings, 0.99),
                len(seen),
                percentile(in_sql, 0.5),
                percentile(in_sql, 0.99),
                statistics.fmean(cpu),
            )
            p50, p99, _, sql50, sql99, _ = results[name]
            print(
                f"[{label}] {name:13} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
                f"  (in SQL: p50 {sql50:6.1f} ms  p99 {sql99:6.1f} ms)"
                f"  {len(seen)} SQL statements per page  (mean {statistics.fmean(timings):.1f} ms;"
                f" CPU of this process {statistics.fmean(cpu):.1f} ms per request)",
                flush=True,
            )
            for cost, statement in clock.dearest():
                print(f"    p99 {cost:6.1f} ms  {statement}", flush=True)
            slowest = max(range(len(timings)), key=timings.__getitem__)
            print(
                f"    slowest request {timings[slowest]:.1f} ms: {in_sql[slowest]:.1f} ms in SQL,"
                f" {paused[slowest]:.1f} ms in the garbage collector"
                f" (GC per request: p99 {percentile(paused, 0.99):.1f} ms,"
                f" max {max(paused):.1f} ms)",
                flush=True,
            )
    return results


def _database(messages: int) -> str:
    # Named after the branch that owns it, so a leftover is easy to trace; on a shared server
    # FRONTDESK_BENCH_DB_PREFIX names it after whoever runs it.
    return f"{os.environ.get('FRONTDESK_BENCH_DB_PREFIX', 'desk-bench')}_{messages}"


def _kept_orders(pg_server: str, name: str) -> tuple[int, int] | None:
    """The order numbers of a database a run kept (FRONTDESK_BENCH_KEEP), from the comment
    it set once its load was complete; None when there is no such database."""
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if row is None or not row[0] or not row[0].startswith(KEPT):
        return None
    first, last = json.loads(row[0][len(KEPT) :])
    return int(first), int(last)


async def run(pg_server: str, messages: int, requests: int, data_dir: Path) -> dict[str, Any]:
    name = _database(messages)
    # FRONTDESK_BENCH_KEEP=1: keep the loaded database (and its data directory) and measure a
    # kept one again without reloading it; migrations still run, so a new index applies.
    keep = os.environ.get("FRONTDESK_BENCH_KEEP", "") not in ("", "0")
    orders = _kept_orders(pg_server, name) if keep else None
    if keep:
        data_dir = Path(tempfile.gettempdir()) / f"{name}-data"
    if orders is None:
        with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    label = f"{messages:,} messages"
    try:
        upgrade(url)
        settings = Settings(
            env="development", data_dir=data_dir, database_url=url, allow_private_webhooks=True
        )
        runtime = Runtime.build(settings, with_runner=False)
        await runtime.start()
        try:
            if orders is None:
                started = time.perf_counter()
                await seed(runtime)
                async with runtime.db.session() as session:
                    inboxes = [
                        (row.id, row.channel)
                        for row in (await session.scalars(select(Inbox))).all()
                        if row.channel in ("email", "webchat", "api")
                    ]
                orders = bulk_load(f"{pg_server}/{name}", messages, inboxes, seed_value=messages)
                print(f"[{label}] loaded in {time.perf_counter() - started:.0f} s", flush=True)
                if keep:
                    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
                        comment = KEPT + json.dumps(list(orders))
                        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
            else:
                print(f"[{label}] kept database {name}", flush=True)
            results = await measure(runtime, label, orders, requests)
        finally:
            await runtime.stop()
    finally:
        if not keep:
            with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    return results


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small = await run(args.pg_server, args.small, args.requests, Path(tmp) / "small")
        large = await run(args.pg_server, args.messages, args.requests, Path(tmp) / "large")
    print(f"p99 ratio {args.messages:,} / {args.small:,} messages (page; in SQL):")
    for name, row in large.items():
        print(
            f"  {name:13} {row[1] / small[name][1]:.2f}x; {row[4] / max(small[name][4], 0.01):.2f}x"
        )
    print(f"load average: {Path('/proc/loadavg').read_text().strip()}")
    print(json.dumps({"small": small, "large": large}))


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
