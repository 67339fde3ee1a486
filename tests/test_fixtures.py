"""The fixtures every database test stands on: the PostgreSQL database a test gets is empty
and hands out ids from 1 whatever the previous test left (conftest.py `_truncate_pg`)."""

from __future__ import annotations

import psycopg
import pytest

from frontdesk.runtime import Runtime
from tests.conftest import _truncate_pg, seed_cast


@pytest.fixture
def db_url(pg_database: str) -> str:
    _truncate_pg(pg_database)
    return pg_database


def _rows_and_sequences(url: str) -> tuple[dict[str, int], list[str]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[index]
        moved = conn.execute(
            "SELECT sequencename FROM pg_sequences"
            " WHERE schemaname = 'public' AND last_value IS NOT NULL"
        ).fetchall()
    return counts, [row[0] for row in moved]


async def test_emptying_postgresql_removes_every_row_and_restarts_ids(
    runtime: Runtime, db_url: str
) -> None:
    first = await seed_cast(runtime)
    counts, moved = _rows_and_sequences(db_url)
    assert counts["agents"] == 4 and counts["api_tokens"] == 4 and counts["team_members"] == 2
    assert "agents_id_seq" in moved
    _truncate_pg(db_url)
    counts, moved = _rows_and_sequences(db_url)
    assert {table: n for table, n in counts.items() if n} == {}
    assert moved == []
    again = await seed_cast(runtime)
    assert (again.ada.id, again.website.id) == (first.ada.id, first.website.id) == (1, 1)
