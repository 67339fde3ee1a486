"""kit/sqlite.py: each statement is one trip to the connection's thread, with the results,
row counts, last row ids and errors SQLAlchemy expects from aiosqlite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from frontdesk.kit.sqlite import OneTripConnection, make_sqlite_engine


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = make_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"
        )
    yield engine
    await engine.dispose()


async def test_queries_writes_and_counts(engine: Any) -> None:
    async with engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert isinstance(raw, OneTripConnection)
        first = await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
        assert first.lastrowid == 1
        many = await connection.execute(
            text("INSERT INTO items (name) VALUES (:name)"), [{"name": "b"}, {"name": "c"}]
        )
        assert many.rowcount == 2
        changed = await connection.execute(text("UPDATE items SET name = name || '!'"))
        assert changed.rowcount == 3
        rows = (await connection.execute(text("SELECT id, name FROM items ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "a!"), (2, "b!"), (3, "c!")]
        assert (
            await connection.execute(text("SELECT name FROM items WHERE id = 9"))
        ).first() is None
        one = await connection.execute(text("SELECT name FROM items ORDER BY id"))
        assert one.fetchone() == ("a!",)
        assert one.fetchmany(5) == [("b!",), ("c!",)]


async def test_errors_and_rollback(engine: Any) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO items (name) VALUES ('x')"))
        await connection.commit()
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO items (name) VALUES ('x')"))
        await connection.rollback()
        await connection.execute(text("INSERT INTO items (name) VALUES ('y')"))
        await connection.rollback()
        names = (await connection.execute(text("SELECT name FROM items"))).scalars().all()
        assert names == ["x"]


async def test_a_statement_is_one_trip_to_the_thread(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    original = OneTripConnection._execute

    async def counted(self: OneTripConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    async with engine.connect() as connection:
        monkeypatch.setattr(OneTripConnection, "_execute", counted)
        rows = (await connection.execute(text("SELECT 1 UNION SELECT 2"))).all()
        assert len(rows) == 2
        assert trips == ["_run"]
        await connection.execute(
            text("INSERT INTO items (name) VALUES (:n)"), [{"n": "p"}, {"n": "q"}]
        )
        assert trips == ["_run", "_run"]
        await connection.rollback()
