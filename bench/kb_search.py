# ruff: noqa: E402, RUF001  (the path fix must run before the imports; Arabic samples)
"""Knowledge search benchmark: 10,000 generated articles in English, Arabic and Persian
(a third with a translation into another of the three, each with example questions), written
through the knowledge service, then hybrid search (knowledge.search.search, as
GET /api/v1/kb/search runs it) and autocomplete (as GET /api/v1/public/kb/autocomplete runs
it) timed per query, on SQLite and on PostgreSQL.

    .venv/bin/python bench/kb_search.py [--articles 10000] [--queries 1000]
        [--pg-server postgresql://postgres@127.0.0.1:5432] [--skip-postgres]
        [--embedder hashing|model]

Targets: search p99 <= 20 ms, autocomplete p99 <= 10 ms. Prints the figures; asserts nothing.
The first query after a write rebuilds the process's index: its time is printed apart.

`--embedder model` times the model path: every search query runs the model's forward pass
(multilingual-e5-small); the 30,000 stored texts get random unit vectors of the model's
dimension instead of the model's own (embedding them would take hours of this shared CPU), so
those figures are latency only; relevance is measured by tests/knowledge/test_model.py and
bench/intent.py."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import os

# As frontdesk/__init__.py sets for the server (this file loads numpy before frontdesk). Until
# 2026-12-07 this bench ran with OpenBLAS's thread per core, unlike the server: its idle
# threads spun beside the query's forward pass and doubled search's p99 (docs/knowledge.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import random
import tempfile
import time

import numpy as np
import psycopg

import frontdesk.handlers  # noqa: F401  (job handlers and channels, as the server loads them)
from frontdesk.config import Settings
from frontdesk.kit import uow
from frontdesk.knowledge import search, service
from frontdesk.knowledge.embedding import HASHING, Embedder, Kind, model_embedder
from frontdesk.knowledge.schemas import ArticleCreate, TranslationWrite
from frontdesk.migrate import upgrade
from frontdesk.runtime import Runtime

LANGUAGES = ("en", "ar", "fa")
# Syllables per language: words are made of two to four of them, so the vocabulary is large
# (about 30,000 words a language) and Zipf-like draws make some words common.
SYLLABLES = {
    "en": "ba be bi bo bu ca ce co da de di do fa fe fi ga ge go ha he ho ka ke ki la le li lo"
    " ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi wa we",
    "ar": "با بي بو تا تي تو جا جي دا دي را ري زا سا سي شا صا طا عا عي فا في قا قي كا كي لا لي"
    " ما مي نا ني ها هي وا وي يا ة أ إ",
    "fa": "با بی پا پی تا تی جا چا چی خا دا دی را ری زا ژا سا سی شا فا فی کا کی گا گی لا لی ما"
    " می نا نی وا وی ها هی یا",
}


def vocabulary(language: str, rng: random.Random, size: int = 3000) -> list[str]:
    syllables = SYLLABLES[language].split()
    words = {
        "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(size * 2)
    }
    return sorted(words)[:size]


def words(vocab: list[str], rng: random.Random, n: int) -> list[str]:
    # Zipf-like: low ranks are frequent.
    return [vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] for _ in range(n)]


def article(language: str, vocab: list[str], rng: random.Random) -> tuple[str, str, list[str]]:
    title = " ".join(words(vocab, rng, rng.randint(3, 6)))
    body = ". ".join(" ".join(words(vocab, rng, rng.randint(6, 14))) for _ in range(8))
    questions = [" ".join(words(vocab, rng, rng.randint(4, 8))) + "?" for _ in range(2)]
    return title, body, questions


class RandomVectors:
    """Stored vectors for timing the model path: random unit vectors of the model's size."""

    name, reweight, inline, floor = "random", False, True, 0.7

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(5)

    def embed(self, texts: list[str], *, kind: Kind = "query") -> np.ndarray:
        vectors = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def load(
    runtime: Runtime, n: int, rng: random.Random, embedder: Embedder
) -> list[tuple[str, str, list[str]]]:
    vocabs = {language: vocabulary(language, rng) for language in LANGUAGES}
    made: list[tuple[str, str, list[str]]] = []
    batch = 200
    for start in range(0, n, batch):
        async with runtime.db.session() as session:
            for i in range(start, min(n, start + batch)):
                language = LANGUAGES[i % 3]
                title, body, questions = article(language, vocabs[language], rng)
                made.append((language, title, questions))
                created = await service.create_article(
                    session,
                    ArticleCreate(
                        language=language,
                        title=title,
                        body=body,
                        status="published" if i % 10 else "internal",
                        questions=questions,
                    ),
                    author=None,
                    embedder=embedder,
                )
                if i % 3 == 0:
                    other = LANGUAGES[(i + 1) % 3]
                    t_title, t_body, t_questions = article(other, vocabs[other], rng)
                    await service.write_translation(
                        session,
                        created,
                        TranslationWrite(
                            language=other, title=t_title, body=t_body, questions=t_questions
                        ),
                        author=None,
                        embedder=embedder,
                    )
            await uow.commit(session)
    return made


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def queries(
    made: list[tuple[str, str, list[str]]], count: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    """(search query, autocomplete prefix, language) drawn from the articles' own words."""
    out = []
    for _ in range(count):
        language, title, questions = rng.choice(made)
        terms = title.split()
        picked = rng.sample(terms, min(len(terms), rng.randint(1, 3)))
        if rng.random() < 0.3:
            picked[0] = typo(picked[0], rng)
        question = rng.choice(questions).split()
        prefix = " ".join(question[:1]) + " " + question[1][: rng.randint(1, len(question[1]))]
        out.append((" ".join(picked), prefix, language))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, label: str, args: argparse.Namespace, data_dir: Path) -> None:
    rng = random.Random(12)
    upgrade(url)
    runtime = Runtime.build(
        Settings(env="development", data_dir=data_dir, database_url=url), with_runner=False
    )
    try:
        started = time.perf_counter()
        searcher: Embedder = model_embedder() if args.embedder == "model" else HASHING
        stored = RandomVectors(searcher.dim) if args.embedder == "model" else HASHING
        made = await load(runtime, args.articles, rng, stored)
        loaded = time.perf_counter() - started
        asked = queries(made, args.queries, rng)
        searched: list[float] = []
        completed: list[float] = []
        # CPU of this process per query (time.process_time: every thread), the figure to
        # compare on a shared machine where wall-clock percentiles measure the neighbours.
        searched_cpu: list[float] = []
        completed_cpu: list[float] = []
        async with runtime.db.session() as session:
            started = time.perf_counter()
            await search.search(
                session, "warm", language="en", statuses=service.STAFF, limit=10, embedder=searcher
            )
            first = time.perf_counter() - started
            for q, prefix, language in asked:
                t0, c0 = time.perf_counter(), time.process_time()
                await search.search(
                    session, q, language=language, statuses=service.STAFF, limit=10,
                    embedder=searcher,
                )  # fmt: skip
                t1, c1 = time.perf_counter(), time.process_time()
                await search.autocomplete(session, prefix, language=language, embedder=searcher)
                t2, c2 = time.perf_counter(), time.process_time()
                searched.append((t1 - t0) * 1000)
                completed.append((t2 - t1) * 1000)
                searched_cpu.append((c1 - c0) * 1000)
                completed_cpu.append((c2 - c1) * 1000)
                await session.rollback()  # one request, one transaction
    finally:
        await runtime.db.dispose()
    print(
        f"[{label}] {args.articles} articles loaded in {loaded:.1f} s;"
        f" index build {first * 1000:.0f} ms"
    )
    print(
        f"[{label}] search p50 {percentile(searched, 0.5):.2f} ms"
        f"  p99 {percentile(searched, 0.99):.2f} ms  ({len(searched)} queries)"
    )
    print(
        f"[{label}] autocomplete p50 {percentile(completed, 0.5):.2f} ms"
        f"  p99 {percentile(completed, 0.99):.2f} ms"
    )
    print(
        f"[{label}] CPU per query: search p50 {percentile(searched_cpu, 0.5):.2f} ms"
        f"  p99 {percentile(searched_cpu, 0.99):.2f} ms; autocomplete p50"
        f" {percentile(completed_cpu, 0.5):.2f} ms  p99 {percentile(completed_cpu, 0.99):.2f} ms"
    )
    print(f"[{label}] embedder: {args.embedder}")
    print(f"[{label}] load average: {Path('/proc/loadavg').read_text().strip()}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await run(f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}", "sqlite", args, Path(tmp))
        if not args.skip_postgres:
            name = "fd_kb_bench"
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
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--embedder", choices=("hashing", "model"), default="hashing")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
