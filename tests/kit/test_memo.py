"""A request's repeated reads: answered once, forgotten as soon as the answer could change."""

from __future__ import annotations

from sqlalchemy import event, update

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Team
from frontdesk.kit import memo, uow


def counting(runtime):  # type: ignore[no-untyped-def]
    """The SELECTs on teams the session sends, from now on."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM teams" in statement:
            seen.append(statement)

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)
    return seen


class TestOnce:
    async def test_a_repeated_read_runs_once(self, runtime, cast):
        seen = counting(runtime)
        async with runtime.db.session() as session:
            first = await auth_repository.list_teams(session)
            again = await auth_repository.list_teams(session)
        assert [t.name for t in first] == [t.name for t in again] == ["Support", "Billing"]
        assert len(seen) == 1

    async def test_an_answer_is_a_copy(self, runtime, cast):
        async with runtime.db.session() as session:
            first = await auth_repository.list_teams(session)
            first.clear()  # type: ignore[attr-defined]
            assert len(await auth_repository.list_teams(session)) == 2

    async def test_a_write_statement_forgets(self, runtime, cast):
        seen = counting(runtime)
        async with runtime.db.session() as session:
            await auth_repository.list_teams(session)
            await session.execute(update(Team).where(Team.name == "Billing").values(name="Money"))
            await auth_repository.list_teams(session)
        assert len(seen) == 2

    async def test_unflushed_rows_are_not_answered_from_memory(self, runtime, cast):
        async with runtime.db.session() as session:
            await auth_repository.list_teams(session)
            session.add(Team(name="Night shift"))
            names = [t.name for t in await auth_repository.list_teams(session)]
        assert "Night shift" in names

    async def test_commit_and_rollback_forget(self, runtime, cast):
        seen = counting(runtime)
        async with runtime.db.session() as session:
            await auth_repository.list_teams(session)
            await uow.commit(session)
            await auth_repository.list_teams(session)
            await session.rollback()
            await auth_repository.list_teams(session)
        assert len(seen) == 3

    async def test_a_change_to_a_loaded_row_bypasses_the_memo(self, runtime, cast):
        seen = counting(runtime)
        async with runtime.db.session() as session:
            teams = await auth_repository.list_teams(session)
            teams[0].name = "Renamed"
            await auth_repository.list_teams(session)  # autoflushes, then reads
        assert len(seen) == 2

    async def test_each_session_reads_for_itself(self, runtime, cast):
        seen = counting(runtime)
        async with runtime.db.session() as session:
            await auth_repository.list_teams(session)
        async with runtime.db.session() as session:
            await auth_repository.list_teams(session)
        assert len(seen) == 2


class TestRemember:
    async def test_a_value_read_by_a_larger_statement_answers_the_next_ask(self, runtime, cast):
        async def load() -> str:
            raise AssertionError("remembered: not loaded again")

        async with runtime.db.session() as session:
            memo.remember(session, "key", "read with the agent")
            assert await memo.once(session, "key", load) == "read with the agent"

    async def test_nothing_is_remembered_while_rows_wait_unflushed(self, runtime, cast):
        async def load() -> str:
            return "read again"

        async with runtime.db.session() as session:
            session.add(Team(name="Night shift"))
            memo.remember(session, "key", "stale")
            assert await memo.once(session, "key", load) == "read again"
