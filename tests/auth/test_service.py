"""auth/service.py: password logins under attack — limits per (account, IP), per account and
per IP, their expiry, progressive delays, audit events and equal work for unknown accounts.
The clock is the service's `now` (the limits are fixed windows of the shared rate table)."""

from __future__ import annotations

import pytest
from pwdlib import PasswordHash
from sqlalchemy import select

from frontdesk.auth import service
from frontdesk.auth.events import LOCKED_OUT, LOGIN_FAILED
from frontdesk.auth.schemas import AgentUpdate
from frontdesk.config import Settings
from frontdesk.kit import uow
from frontdesk.kit.errors import TooManyRequests
from frontdesk.kit.events import Event
from tests.conftest import Person

# The start of an hour (so of a 15-minute window too), plus ten seconds.
T0 = 1_800_000_000 - 1_800_000_000 % 3600 + 10


async def attempt(
    runtime,
    person,
    password: str,
    *,
    ip: str = "203.0.113.7",
    now: float = T0,
    limits: Settings | None = None,
):  # type: ignore[no-untyped-def]
    """One login in its own transaction, committed whatever the outcome (as the view does);
    returns the agent, or the error raised."""
    async with runtime.db.session() as session:
        try:
            limits = limits or runtime.settings
            started = await service.start_login(
                session, person.email, ip=ip, limits=limits, now=now
            )
            await uow.commit(session)
            agent = await service.finish_login(session, started, password, limits=limits)
        except (service.BadCredentials, TooManyRequests) as exc:
            await uow.commit(session)
            return exc
        await uow.commit(session)
        return agent


async def audit(runtime, type_: str) -> list[dict]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        rows = await session.scalars(select(Event).where(Event.type == type_))
        return [row.payload for row in rows]


class TestPairLockout:
    async def test_five_failures_lock_that_account_and_ip_until_the_window_ends(
        self, runtime, cast
    ):
        results = [await attempt(runtime, cast.alice, "wrong-guess") for _ in range(5)]
        assert all(isinstance(r, service.BadCredentials) for r in results)
        locked = await attempt(runtime, cast.alice, cast.alice.password, now=T0 + 60)
        assert isinstance(locked, TooManyRequests) and locked.code == "login_locked"
        assert 15 * 60 - 70 <= locked.retry_after <= 15 * 60 - 69
        # Time-bounded: the next window lets the owner in again.
        later = await attempt(runtime, cast.alice, cast.alice.password, now=T0 + 15 * 60)
        assert not isinstance(later, Exception) and later.id == cast.alice.id

    async def test_the_owner_elsewhere_is_not_locked_out(self, runtime, cast):
        for _ in range(6):
            await attempt(runtime, cast.alice, "wrong-guess", ip="198.51.100.66")
        mine = await attempt(runtime, cast.alice, cast.alice.password, ip="203.0.113.200")
        assert not isinstance(mine, Exception) and mine.id == cast.alice.id

    async def test_delay_grows_with_each_failure(self, runtime, cast):
        runtime.settings.login_delay_seconds = 0.5
        results = [await attempt(runtime, cast.bob, "wrong-guess") for _ in range(5)]
        assert [r.delay for r in results] == [0.0, 0.0, 0.5, 1.0, 2.0]

    async def test_a_success_clears_the_pairs_failures(self, runtime, cast):
        for _ in range(4):
            await attempt(runtime, cast.bob, "wrong-guess")
        assert not isinstance(await attempt(runtime, cast.bob, cast.bob.password), Exception)
        for _ in range(4):
            await attempt(runtime, cast.bob, "wrong-guess")
        assert not isinstance(await attempt(runtime, cast.bob, cast.bob.password), Exception)

    async def test_failures_and_the_lockout_are_audited(self, runtime, cast):
        for _ in range(5):
            await attempt(runtime, cast.alice, "wrong-guess", ip="192.0.2.9")
        failed = await audit(runtime, LOGIN_FAILED)
        assert [f["failures"] for f in failed] == [1, 2, 3, 4, 5]
        assert {(f["agent_id"], f["ip"]) for f in failed} == {(cast.alice.id, "192.0.2.9")}
        [locked] = await audit(runtime, LOCKED_OUT)
        assert locked["scope"] == "account_ip" and locked["agent_id"] == cast.alice.id
        assert locked["until"] == T0 - 10 + 15 * 60


class TestAccountLimit:
    async def test_failures_from_many_addresses_lock_the_account_for_the_hour_only(
        self, runtime, cast
    ):
        limits = runtime.settings.model_copy(update={"login_account_failures": 6})
        for n in range(6):
            await attempt(runtime, cast.bob, "wrong-guess", ip=f"198.51.100.{n}", limits=limits)
        locked = await attempt(
            runtime, cast.bob, cast.bob.password, ip="203.0.113.1", limits=limits, now=T0 + 5
        )
        assert isinstance(locked, TooManyRequests) and locked.code == "login_locked"
        assert [p["scope"] for p in await audit(runtime, LOCKED_OUT)] == ["account"]
        later = await attempt(
            runtime, cast.bob, cast.bob.password, ip="203.0.113.1", limits=limits, now=T0 + 3600
        )
        assert not isinstance(later, Exception)


class TestIpLimit:
    async def test_one_address_gets_a_few_attempts_a_minute_whatever_the_account(
        self, runtime, cast
    ):
        limits = runtime.settings.model_copy(update={"login_ip_per_minute": 3})
        for person in (cast.alice, cast.bob, cast.sara):
            await attempt(runtime, person, "wrong-guess", limits=limits)
        refused = await attempt(runtime, cast.ada, cast.ada.password, limits=limits, now=T0 + 20)
        assert isinstance(refused, TooManyRequests) and refused.code == "login_rate_limited"
        assert 29 <= refused.retry_after <= 31
        other = await attempt(runtime, cast.ada, cast.ada.password, ip="192.0.2.1", limits=limits)
        assert not isinstance(other, Exception)
        again = await attempt(runtime, cast.ada, cast.ada.password, limits=limits, now=T0 + 60)
        assert not isinstance(again, Exception)


class TestEqualWork:
    @pytest.fixture
    def verifications(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Counts argon2 verifications (pwdlib's, called through unchanged)."""
        seen: list[str] = []
        original = PasswordHash.verify

        def counting(self, password, hash):  # type: ignore[no-untyped-def]
            seen.append(str(hash)[:9])
            return original(self, password, hash)

        monkeypatch.setattr(PasswordHash, "verify", counting)
        return seen

    async def test_an_unknown_account_costs_one_argon2_verification_like_a_known_one(
        self, runtime, cast, verifications
    ):
        stranger = Person(0, "nobody@frontdesk.test", "", "")
        assert isinstance(await attempt(runtime, stranger, "guess-1"), service.BadCredentials)
        assert verifications == ["$argon2id"]
        assert isinstance(await attempt(runtime, cast.alice, "guess-1"), service.BadCredentials)
        assert verifications == ["$argon2id", "$argon2id"]

    async def test_a_deactivated_agent_is_refused_after_the_same_work(
        self, runtime, cast, verifications
    ):
        async with runtime.db.session() as session:
            agent = await service.get_agent_or_raise(session, cast.bob.id)
            await service.update_agent(session, agent, AgentUpdate(active=False))
            await uow.commit(session)
        refused = await attempt(runtime, cast.bob, cast.bob.password)
        assert isinstance(refused, service.BadCredentials)
        assert verifications == ["$argon2id"]
