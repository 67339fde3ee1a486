"""What each database test pays before its first assertion, old way against new (docs/testing.md):
argon2id at the production cost against the suite's (the cast hashes four passwords per
test), TRUNCATE of every table against the DELETE-and-restart that tests/conftest.py runs
between PostgreSQL tests, and an app built and routed for the first time (FastAPI compiles
every route per app, on its first request).

    .venv/bin/python bench/testcosts.py [--rounds 20] [--pg postgresql://postgres@127.0.0.1:5432]

Needs PostgreSQL (it makes and drops the database fd_bench_testcosts). Every figure is the
median of the rounds in milliseconds, printed beside the load average; nothing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py would shadow the standard library's email: drop this folder from the path
# and put the project root on it (this reuses the fixtures' own emptying statement).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import httpx  # noqa: E402
import psycopg  # noqa: E402
from tests.conftest import EMPTY_PG  # noqa: E402

import frontdesk.handlers  # noqa: E402, F401
from frontdesk.app import create_app  # noqa: E402
from frontdesk.config import Settings  # noqa: E402
from frontdesk.kit.security import RECOMMENDED, PasswordCost, hash_password  # noqa: E402
from frontdesk.migrate import upgrade  # noqa: E402
from frontdesk.runtime import Runtime  # noqa: E402

DATABASE = "fd_bench_testcosts"
TRUNCATE = """
DO $$ BEGIN
  EXECUTE (SELECT 'TRUNCATE ' || string_agg(quote_ident(tablename), ', ')
                  || ' RESTART IDENTITY CASCADE'
           FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version');
END $$
"""


def median_ms(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0]


def report(name: str, ms: float) -> None:
    print(f"{name:<58} {ms:9.1f} ms   (load {load()})")


def passwords(rounds: int) -> None:
    suite = PasswordCost(time_cost=1, memory_kib=1024)
    report(
        "argon2id hash, production cost (t=3, 64 MiB)",
        median_ms(rounds, lambda: hash_password("pw", RECOMMENDED)),
    )
    report(
        "argon2id hash, the suite's cost (t=1, 1 MiB)",
        median_ms(rounds, lambda: hash_password("pw", suite)),
    )


def emptying(rounds: int, server: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    try:
        upgrade(f"{server.replace('postgresql://', 'postgresql+psycopg://', 1)}/{DATABASE}")
        with psycopg.connect(f"{server}/{DATABASE}", autocommit=True) as conn:

            def seeded(statement: str) -> Callable[[], None]:
                def run() -> None:
                    conn.execute("INSERT INTO teams (name, created_at) VALUES ('t', now())")
                    conn.execute(statement)

                return run

            report(
                "PostgreSQL between tests: TRUNCATE all tables", median_ms(rounds, seeded(TRUNCATE))
            )
            report(
                "PostgreSQL between tests: DELETE + restart moved sequences",
                median_ms(rounds, seeded(EMPTY_PG)),
            )
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')


async def first_request(rounds: int) -> None:
    async def one() -> tuple[float, float]:
        settings = Settings(env="development", data_dir=Path(tempfile.mkdtemp()))
        runtime = Runtime.build(settings, with_runner=False)
        started = time.perf_counter()
        app = create_app(settings, runtime=runtime)
        built = time.perf_counter()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.get("/api/v1/no-such-route")  # walks (compiles) every route
        answered = time.perf_counter()
        await runtime.db.dispose()
        return (built - started) * 1000, (answered - built) * 1000

    timings = [await one() for _ in range(rounds)]
    report("create_app", statistics.median(t[0] for t in timings))
    report(
        "a first request walking every route (FastAPI compiles them)",
        statistics.median(t[1] for t in timings),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    passwords(args.rounds)
    emptying(args.rounds, args.pg)
    asyncio.run(first_request(args.rounds))


if __name__ == "__main__":
    main()
