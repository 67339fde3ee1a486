# ruff: noqa: E402  (the path fix must run before the imports)
"""Bot benchmark: the demo's articles (English, Arabic, Persian) on an API inbox with the bot,
then customer messages stored as the channel stores them and the bot's job
(`bot.service.on_customer_message`, one transaction each, as the job runner runs it) timed per
message: questions the articles answer, questions they do not, "did that help?" answers and
requests for a person, spread over many conversations. SQLite by default; PostgreSQL too with
--pg-server.

    .venv/bin/python bench/bot.py [--conversations 300]
        [--pg-server postgresql://postgres@127.0.0.1:5432]

Prints per-message p50/p99 ms and what the bot did; asserts nothing."""

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
from collections import Counter

import psycopg
from sqlalchemy import select

import frontdesk.handlers  # noqa: F401  (job handlers and channels, as the server loads them)
from frontdesk.bot import service as bot
from frontdesk.bot.models import BotConversation
from frontdesk.bot.schemas import BotSettingsWrite
from frontdesk.config import Settings
from frontdesk.conversations import service as conversations
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.port import Inbound
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from frontdesk.knowledge.demo import ARTICLES, seed_articles
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

UNKNOWN = ["Can you repair a harpsichord?", "هل تبيعون السيارات المستعملة؟", "آیا بلیت قطار دارید؟"]
PERSON = ["I want to talk to a human", "أريد التحدث مع موظف", "می‌خواهم با اپراتور صحبت کنم"]
VERDICTS = ["yes", "no", "نعم", "لا", "بله", "نه"]


def script(rng: random.Random) -> list[str]:
    """One customer's messages: a known question, a verdict, then one of the other kinds."""
    source, translations, _ = rng.choice(ARTICLES)
    texts = [source, *translations]
    question = rng.choice(rng.choice(texts)[3])
    return [question, rng.choice(VERDICTS), rng.choice([*UNKNOWN, *PERSON, question])]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, label: str, args: argparse.Namespace, data_dir: Path) -> None:
    rng = random.Random(7)
    upgrade(url)
    runtime = Runtime.build(
        Settings(env="development", data_dir=data_dir, database_url=url), with_runner=False
    )
    try:
        async with runtime.db.session() as session:
            inbox = await inboxes.create_inbox(
                session, InboxCreate(channel="api", name="Bench"), runtime.settings
            )
            await seed_articles(session, author=None)  # type: ignore[arg-type]
            await bot.set_settings(session, inbox.id, BotSettingsWrite(enabled=True))
            await uow.commit(session)
        timings: list[float] = []
        for n in range(args.conversations):
            for i, text in enumerate(script(rng)):
                async with runtime.db.session() as session:
                    received = await conversations.receive(
                        session,
                        Inbound(
                            inbox_id=inbox.id,
                            external_id=f"b{n}-{i}",
                            address=f"customer{n}@bench.test",
                            text=text,
                        ),
                        blobs=runtime.blobs,
                    )
                    await uow.commit(session)
                started = time.perf_counter()
                async with runtime.db.session() as session:
                    await bot.on_customer_message(
                        session,
                        conversation_id=received.conversation.id,
                        message_id=received.message.id,
                    )
                    await uow.commit(session)
                timings.append((time.perf_counter() - started) * 1000)
        async with runtime.db.session() as session:
            dialogues = list(await session.scalars(select(BotConversation)))
            await session.commit()
        outcomes = Counter(d.context.get("reason") or d.status for d in dialogues)
        print(
            f"{label}: {len(timings)} messages in {args.conversations} conversations; bot job "
            f"p50={percentile(timings, 0.5):.1f} ms p99={percentile(timings, 0.99):.1f} ms; "
            f"dialogues: {dict(sorted(outcomes.items()))}"
        )
    finally:
        await runtime.stop()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{tmp}/bench.db", "sqlite", args, Path(tmp) / "s")
        if args.pg_server:
            name = "frontdesk_bench_bot"
            with psycopg.connect(f"{args.pg_server}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
                conn.execute(f"CREATE DATABASE {name}")
            pg = args.pg_server.replace("postgresql://", "postgresql+psycopg://")
            await run(f"{pg}/{name}", "postgresql", args, Path(tmp) / "p")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--pg-server", default=None)
    asyncio.run(main(parser.parse_args()))
