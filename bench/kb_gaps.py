# ruff: noqa: E402  (the path fix must run before the imports)
"""Content-gap benchmark: misses recorded through knowledge.service.record_miss (one
transaction each, as a request records one), then the report (GET /api/v1/kb/gaps: read the
5,000 most missed keys and cluster them), on SQLite and on PostgreSQL.

    .venv/bin/python bench/kb_gaps.py [--misses 20000] [--keys 6000]
        [--pg-server postgresql://postgres@127.0.0.1:5432] [--skip-postgres]

Misses are 2-7 words from a 2,000-word vocabulary, a third of them drawn Zipf-like, so
common words ("how", "do") are in many keys. Prints the figures; asserts nothing."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import asyncio
import random
import tempfile
import time

import psycopg

import frontdesk.handlers  # noqa: F401  (job handlers and channels, as the server loads them)
from frontdesk.config import Settings
from frontdesk.kit import uow
from frontdesk.knowledge import service
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime


def texts(keys: int, rng: random.Random) -> list[str]:
    vocab = [f"word{n}" for n in range(2_000)]

    def word() -> str:  # a third common (Zipf-like), the rest spread evenly
        if rng.random() < 0.33:
            return vocab[min(len(vocab) - 1, int(rng.paretovariate(1.0)) - 1)]
        return rng.choice(vocab)

    return [" ".join(word() for _ in range(rng.randint(2, 7))) for _ in range(keys)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, label: str, args: argparse.Namespace, data_dir: Path) -> None:
    rng = random.Random(12)
    upgrade(url)
    runtime = Runtime.build(
        Settings(env="development", data_dir=data_dir, database_url=url), with_runner=False
    )
    distinct = texts(args.keys, rng)
    recorded: list[float] = []
    reports: list[float] = []
    try:
        for _ in range(args.misses):
            text = distinct[min(len(distinct) - 1, int(rng.paretovariate(0.8)) - 1)]
            if rng.random() < 0.5:
                text = rng.choice(distinct)
            t0 = time.perf_counter()
            async with runtime.db.session() as session:
                await service.record_miss(session, text, language="en", source="answer")
                await uow.commit(session)
            recorded.append((time.perf_counter() - t0) * 1000)
        for _ in range(3):
            t0 = time.perf_counter()
            async with runtime.db.session() as session:
                report = await service.gap_report(session, since=None, language=None)
            reports.append((time.perf_counter() - t0) * 1000)
    finally:
        await runtime.db.dispose()
    print(
        f"[{label}] record_miss p50 {percentile(recorded, 0.5):.2f} ms"
        f"  p99 {percentile(recorded, 0.99):.2f} ms  ({len(recorded)} misses, commit included)"
    )
    print(
        f"[{label}] report {min(reports):.0f} ms best of 3"
        f" ({len(report.items)} clusters, top count {report.items[0].count})"
    )
    print(f"[{label}] load average: {Path('/proc/loadavg').read_text().strip()}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{Path(tmp) / 'gaps.db'}", "sqlite", args, Path(tmp))
        if not args.skip_postgres:
            name = "fd_kb_gaps_bench"
            with psycopg.connect(f"{args.pg_server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')
            server = args.pg_server.replace("postgresql://", "postgresql+psycopg://", 1)
            try:
                await run(f"{server}/{name}", "postgresql", args, Path(tmp))
            finally:
                with psycopg.connect(f"{args.pg_server}/postgres", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=6_000)
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--skip-postgres", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
