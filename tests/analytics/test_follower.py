"""analytics/follower.py: a round reads the lag in a read of its own and writes only to fold
(on SQLite a write transaction holds the one write lock)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event

from frontdesk.analytics import follower, service
from frontdesk.db import READ_ONLY


async def _round_begins(runtime: Any) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    kinds: list[str] = []

    def note(conn: Any) -> None:
        kinds.append("read" if conn.get_execution_options().get(READ_ONLY) else "write")

    engine = runtime.db.engine.sync_engine
    sa_event.listen(engine, "begin", note)
    try:
        folded = await follower._round(runtime.db)
    finally:
        sa_event.remove(engine, "begin", note)
    return folded, kinds


async def test_a_round_with_nothing_to_fold_does_not_write(client, cast, runtime):  # type: ignore[no-untyped-def]
    await service.catch_up_all(runtime.db)
    folded, kinds = await _round_begins(runtime)
    assert folded == 0
    assert kinds == (["read"] if runtime.settings.is_sqlite else ["write"])


async def test_a_round_with_events_reads_the_lag_then_folds_in_a_writer(client, cast, runtime):  # type: ignore[no-untyped-def]
    await service.catch_up_all(runtime.db)
    created = await client.post(
        "/api/v1/teams", json={"name": "Sales", "agent_ids": []}, headers=cast.ada.headers
    )
    assert created.status_code == 201
    folded, kinds = await _round_begins(runtime)
    assert folded >= 1
    assert kinds == (["read", "write"] if runtime.settings.is_sqlite else ["write"])
    async with runtime.db.session() as session:
        assert await service.lag(session) == 0


async def test_while_the_process_is_busy_it_folds_small_rounds_at_a_background_pace(  # type: ignore[no-untyped-def]
    client, cast, runtime, monkeypatch
):
    """Someone served (kit.pressure): each round folds at most BUSY_ROUND events and the next
    waits for its turn; nobody served: one round takes what there is."""
    import asyncio
    import contextlib

    from frontdesk.kit import pressure

    await service.catch_up_all(runtime.db)
    for n in range(5):
        created = await client.post(
            "/api/v1/teams", json={"name": f"Team {n}", "agent_ids": []}, headers=cast.ada.headers
        )
        assert created.status_code == 201
    limits: list[int] = []
    real_round = follower._round

    async def counting(db: Any, limit: int = service.BATCH) -> int:
        limits.append(limit)
        return await real_round(db, limit)

    monkeypatch.setattr(follower, "_round", counting)
    monkeypatch.setattr(follower, "BUSY_ROUND", 2)
    monkeypatch.setattr(pressure, "_serving", 1)  # a request in flight throughout
    task = asyncio.create_task(follower.follow(runtime.db, 0.01, share=0.5))
    try:
        for _ in range(200):
            await asyncio.sleep(0.02)
            async with runtime.db.session() as session:
                behind = await service.lag(session)
                await session.rollback()
            if not behind:
                break
        assert behind == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        monkeypatch.setattr(pressure, "_serving", 0)
    assert len(limits) >= 3 and set(limits) == {2}  # 5 events: three rounds at least
