"""Migrations that rewrite stored rows, run from the revision before on a scratch database of
each engine: the rows written before them must read as the code after them writes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from frontdesk.kit.text import stemmed_tokens
from frontdesk.migrate import sync_url, upgrade
from tests.conftest import PG_DATABASE, PG_SERVER


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"{PG_DATABASE}_migration"  # one per test worker, as the suite's own
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_0057_stems_the_stored_search_keys_and_the_full_text_finds_the_stems(scratch_url):
    title, body = "المكتبات العامة", "والكتاب في مكتبتها. Library hours"
    upgrade(scratch_url, "0056_kb_search_document")
    engine = sa.create_engine(sync_url(scratch_url))
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO kb_articles (id, source_language, status, tags, revision,"
                    " created_at, updated_at) VALUES (1, 'ar', 'published', '[]', 1,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            # The keys as the code before 0057 wrote them: folded words, not stemmed.
            conn.execute(
                sa.text(
                    "INSERT INTO kb_translations (id, article_id, language, title, body, html,"
                    " search_title, search_body, vector, based_on_revision, version, updated_at)"
                    " VALUES (7, 1, 'ar', :title, :body, :body, 'المكتبات العامه',"
                    " 'والكتاب في مكتبتها library hours', :vector, 1, 1, CURRENT_TIMESTAMP)"
                ),
                {"title": title, "body": body, "vector": b""},
            )
            if not postgres:
                conn.execute(
                    sa.text(
                        "INSERT INTO kb_fts(rowid, title, body) SELECT id, search_title,"
                        " search_body FROM kb_translations"
                    )
                )
        upgrade(scratch_url)
        with engine.connect() as conn:
            keys = conn.execute(
                sa.text("SELECT search_title, search_body FROM kb_translations")
            ).one()
            if postgres:
                found = conn.execute(
                    sa.text(
                        "SELECT id FROM kb_translations"
                        " WHERE search_document @@ to_tsquery('simple', :q)"
                    ),
                    {"q": "'مكتب' & 'كتاب'"},
                ).scalars()
            else:
                found = conn.execute(
                    sa.text("SELECT rowid FROM kb_fts WHERE kb_fts MATCH :q"),
                    {"q": '"مكتب" AND "كتاب"'},
                ).scalars()
            assert list(found) == [7]
    finally:
        engine.dispose()
    # What the code now writes for the same texts.
    assert tuple(keys) == (" ".join(stemmed_tokens(title)), " ".join(stemmed_tokens(body)))
