"""db.py: primary keys handed out on SQLite (assign_ids / next_keys) stay unique whatever
else the transaction inserts, and cost one lookup per transaction."""

from __future__ import annotations

from sqlalchemy import event, func, select

from frontdesk.customers.models import Customer, Identity
from frontdesk.db import assign_ids, next_keys
from frontdesk.kit import uow


async def test_keys_stay_unique_around_rows_keyed_elsewhere(runtime):
    lookups: list[str] = []

    def grab(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "coalesce(max(" in statement:
            lookups.append(statement)

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", grab)
    try:
        async with runtime.db.session() as session:
            first = [Customer(name=f"a{n}", attributes={}) for n in range(3)]
            session.add_all(first)
            await assign_ids(session, Customer)
            await session.flush()
            # The database picks this one's key (a single row, flushed without assign_ids) ...
            lone = Customer(name="lone", attributes={})
            session.add(lone)
            await session.flush()
            # ... and the caller picks this one's.
            chosen = Customer(id=lone.id + 10, name="chosen", attributes={})
            session.add(chosen)
            await session.flush()
            later = [Customer(name=f"b{n}", attributes={}) for n in range(3)]
            session.add_all(later)
            await assign_ids(session, Customer)
            await session.flush()
            identities = [
                Identity(customer_id=c.id, kind="email", address=f"{c.name}@example.com")
                for c in first
            ]
            session.add_all(identities)
            await assign_ids(session, Identity)
            await session.flush()
            await uow.commit(session)
        async with runtime.db.session() as session:
            ids = (await session.scalars(select(Customer.id).order_by(Customer.id))).all()
            assert len(ids) == len(set(ids)) == 8
            assert [c.id for c in later] == sorted(c.id for c in later)
            if not runtime.db.is_postgres:  # PostgreSQL's sequence does not follow chosen keys
                assert min(c.id for c in later) > chosen.id
            assert await session.scalar(select(func.count()).select_from(Identity)) == 3
            # Next transaction: keys after everything stored.
            [key] = await next_keys(session, Customer, 1)
            assert key not in ids
            if not runtime.db.is_postgres:
                assert key > max(ids)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    if not runtime.db.is_postgres:
        # First transaction: one lookup for customers (and every table the process keyed
        # before), one again after the lone row (the database picked its key), one for
        # identities unless the first lookup covered them already; the second transaction
        # reads every table seen so far in one statement.
        assert "customers" in lookups[0]
        assert len(lookups) == (3 if "identities" in lookups[0] else 4), lookups
        assert "identities" in lookups[-1] and "customers" in lookups[-1]


async def test_postgresql_sessions_run_without_jit(runtime):
    """JIT compiling cost the desk's short statements more than running them (bench/desk.py):
    every application session has it off, whatever the server's default."""
    if not runtime.db.is_postgres:
        return  # SQLite has no JIT
    async with runtime.db.session() as session:
        assert await session.scalar(select(func.current_setting("jit"))) == "off"


async def test_a_read_only_session_reads_and_cannot_write_on_sqlite(runtime):  # type: ignore[no-untyped-def]
    """`Database.session(read_only=True)`: on SQLite its transactions begin outside the writer
    queue and a write in one fails loudly; on PostgreSQL it is an ordinary session."""
    import pytest
    from sqlalchemy.exc import OperationalError

    async with runtime.db.session(read_only=True) as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0
        session.add(Customer(name="Nobody"))
        if runtime.settings.is_sqlite:
            with pytest.raises(OperationalError, match="readonly"):
                await session.flush()
        else:
            await session.flush()
        await uow.rollback(session)
    async with runtime.db.session() as session:  # an ordinary session writes as before
        session.add(Customer(name="Somebody"))
        await uow.commit(session)
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1
