"""Rate caps shared by every process through the database (fixed windows, one minute unless
said otherwise)."""

from __future__ import annotations

import time

from sqlalchemy import Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, insert_for


class RateWindow(Base):
    """One fixed one-minute window of a rate cap (e.g. outbound mail per inbox)."""

    __tablename__ = "rate_windows"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # unix time // period
    count: Mapped[int] = mapped_column(Integer, default=0)


async def take(
    session: AsyncSession, key: str, *, limit: int, now: float | None = None, period: int = 60
) -> float:
    """Take one slot of `key`'s current window: 0 when granted, else seconds to wait.
    A key is always used with the same `period`."""
    moment = time.time() if now is None else now
    window = int(moment // period)
    insert = insert_for(session)
    await session.execute(
        insert(RateWindow).values(key=key, window=window, count=0).on_conflict_do_nothing()
    )
    granted = await session.execute(
        update(RateWindow)
        .where(RateWindow.key == key, RateWindow.window == window, RateWindow.count < limit)
        .values(count=RateWindow.count + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(granted, "rowcount", 0):
        await session.execute(
            delete(RateWindow).where(RateWindow.key == key, RateWindow.window < window)
        )
        return 0.0
    return (window + 1) * period - moment + 0.01


async def take_many(
    session: AsyncSession,
    key: str,
    n: int,
    *,
    limit: int,
    now: float | None = None,
    period: int = 60,
) -> tuple[int, float]:
    """Take up to `n` slots of `key`'s current window at once: (how many were granted,
    seconds until the next window when fewer than `n` were). One atomic increment, so
    concurrent takers (other workers) never get more than `limit` between them: each one's
    share is what was left below the limit before its own increment."""
    if n <= 0:
        return 0, 0.0
    moment = time.time() if now is None else now
    window = int(moment // period)
    insert = insert_for(session)
    await session.execute(
        insert(RateWindow).values(key=key, window=window, count=0).on_conflict_do_nothing()
    )
    after = await session.scalar(
        update(RateWindow)
        .where(RateWindow.key == key, RateWindow.window == window)
        .values(count=RateWindow.count + n)
        .returning(RateWindow.count)
        .execution_options(synchronize_session=False)
    )
    # The count may pass the limit: the window is full then (and `take`, used on the same
    # keys elsewhere, refuses too).
    granted = max(0, min(n, limit - (int(after or 0) - n)))
    if granted:
        await session.execute(
            delete(RateWindow).where(RateWindow.key == key, RateWindow.window < window)
        )
    wait = 0.0 if granted == n else (window + 1) * period - moment + 0.01
    return granted, wait


def retry_after(*, now: float | None = None, period: int = 60) -> float:
    """Seconds until the current window of `period` ends."""
    moment = time.time() if now is None else now
    return (int(moment // period) + 1) * period - moment + 0.01


async def used(
    session: AsyncSession, key: str, *, now: float | None = None, period: int = 60
) -> int:
    window = int((time.time() if now is None else now) // period)
    value = await session.scalar(
        select(RateWindow.count).where(RateWindow.key == key, RateWindow.window == window)
    )
    return int(value or 0)


async def reset(session: AsyncSession, key: str) -> None:
    await session.execute(delete(RateWindow).where(RateWindow.key == key))


class LocalWindows:
    """Fixed one-minute windows counted in this process's memory: for public reads made on
    every keystroke (autocomplete), where a database write per request would cost more than
    the read it guards. With N server processes the effective cap is at most N times `limit`."""

    def __init__(self, limit: int, *, period: int = 60, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.period = period
        self.max_keys = max_keys
        self._window = -1
        self._counts: dict[str, int] = {}

    def take(self, key: str, *, now: float | None = None) -> float:
        """0 when granted, else seconds until the window ends."""
        moment = time.time() if now is None else now
        window = int(moment // self.period)
        if window != self._window or len(self._counts) >= self.max_keys:
            self._window, self._counts = window, {}
        used = self._counts.get(key, 0)
        if used >= self.limit:
            return (window + 1) * self.period - moment + 0.01
        self._counts[key] = used + 1
        return 0.0
