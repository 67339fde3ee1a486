"""The directory's search by substring over customers' search keys: folded as every search
(Arabic and Persian spellings, digits, case), kept fresh by every change to a name, an
identity or an attribute (merge and split included), and served by an index on both
databases (FTS5 trigram table / pg_trgm GIN index)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert

from frontdesk.customers import repository
from frontdesk.customers import service as customers
from frontdesk.customers.models import Customer, customer_search_key
from frontdesk.customers.schemas import CustomerUpdate, IdentityCreate
from frontdesk.kit import uow


async def make(runtime, address: str, name: str | None = None) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        customer, _ = await customers.resolve(session, kind="email", address=address, name=name)
        await uow.commit(session)
        return customer.id


async def found(runtime, q: str) -> list[int]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        rows = await repository.search_customers(
            session, inbox_ids=None, text=q, filters=[], after=None, limit=50
        )
        return [row.id for row in rows]


class TestSearchKey:
    async def test_arabic_and_persian_spellings_meet(self, runtime, cast):
        persian = await make(runtime, "ali@example.com", "علی کریمی")  # Persian ye and kaf
        arabic = await make(runtime, "hoda@example.com", "هدى")  # alef maksura
        assert await found(runtime, "علي كريمي") == [persian]  # typed with Arabic letters
        assert await found(runtime, "کریمی") == [persian]
        assert await found(runtime, "هدی") == [arabic]  # typed with the Persian ye

    async def test_digits_and_case_are_folded(self, runtime, cast):
        someone = await make(runtime, "Order.Desk42@Example.com")
        other = await make(runtime, "else@example.com")
        async with runtime.db.session() as session:
            customer = await repository.get_customer(session, other)
            assert customer is not None
            await customers.update_customer(
                session, customer, CustomerUpdate(attributes={"account": "AC-\u0667\u0667\u0661"})
            )
            await uow.commit(session)
        assert await found(runtime, "desk42@EXAMPLE") == [someone]
        assert await found(runtime, "ac-771") == [other]  # Arabic-Indic digits stored
        assert await found(runtime, "\u06f7\u06f7\u06f1") == [other]  # Persian digits asked
        assert await found(runtime, "account") == []  # keys are not values

    async def test_short_and_special_needles(self, runtime, cast):
        layla = await make(runtime, "layla@example.com", "Layla")
        assert await found(runtime, "yl") == [layla]  # under three letters: still found
        assert await found(runtime, "%") == []
        assert await found(runtime, '"') == []
        assert await found(runtime, 'la"y') == []


class TestKeptFresh:
    async def test_rename_identities_merge_and_split(self, runtime, cast):
        keep = await make(runtime, "keep@example.com", "Keeper")
        other = await make(runtime, "other@example.net", "Otto")
        async with runtime.db.session() as session:
            customer = await repository.get_customer(session, keep)
            assert customer is not None
            await customers.update_customer(session, customer, CustomerUpdate(name="Kamal"))
            added = await customers.add_identity(
                session, customer, IdentityCreate(address="kamal@example.org")
            )
            await uow.commit(session)
        assert await found(runtime, "keeper") == []
        assert await found(runtime, "kamal") == [keep]
        assert await found(runtime, "example.org") == [keep]
        async with runtime.db.session() as session:
            customer = await repository.get_customer(session, keep)
            assert customer is not None
            await customers.remove_identity(session, customer, added.id)
            await uow.commit(session)
        assert await found(runtime, "example.org") == []

        async with runtime.db.session() as session:
            kept = await repository.get_customer(session, keep)
            gone = await repository.get_customer(session, other)
            assert kept is not None and gone is not None
            await customers.merge(session, kept, gone)
            await uow.commit(session)
        assert await found(runtime, "other@example.net") == [keep]  # its address moved
        async with runtime.db.session() as session:
            kept = await repository.get_customer(session, keep)
            assert kept is not None
            [merge] = await customers.merges(session, kept)
            await customers.split(session, kept, merge.id)
            await uow.commit(session)
        assert await found(runtime, "other@example.net") == [other]
        assert await found(runtime, "keep@example.com") == [keep]


class TestIndexed:
    async def test_the_search_is_served_by_an_index(self, runtime, cast):
        for n in range(30):
            await make(runtime, f"person{n}@example.com", f"Person {n}")
        # A directory big enough that a planner weighs an index against a scan.
        async with runtime.db.session() as session:
            await session.execute(
                insert(Customer),
                [
                    {"name": f"Filler {n}", "attributes": {},
                     "search_key": customer_search_key(f"Filler {n}", [f"f{n}@example.net"], {})}
                    for n in range(3000)
                ],
            )  # fmt: skip
            await uow.commit(session)
        if runtime.db.is_postgres:  # what autovacuum does: statistics, GIN pending list merged
            async with runtime.db.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql("VACUUM ANALYZE customers")
        statements: list[tuple[str, Any]] = []

        def grab(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if "FROM customers" in statement:
                statements.append((statement, parameters))

        engine = runtime.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", grab)
        try:
            assert len(await found(runtime, "person1")) == 11  # person1, person10..19
        finally:
            event.remove(engine, "before_cursor_execute", grab)
        [(sql, parameters)] = statements
        explain = "EXPLAIN " if runtime.db.is_postgres else "EXPLAIN QUERY PLAN "
        async with runtime.db.session() as session:
            connection = await session.connection()
            rows = (await connection.exec_driver_sql(explain + sql, parameters)).all()
        plan = " ".join(str(row[-1]) for row in rows)
        if runtime.db.is_postgres:
            assert "ix_customers_search_trgm" in plan, plan
        else:
            assert "VIRTUAL TABLE INDEX" in plan and "customers_fts" in plan, plan
