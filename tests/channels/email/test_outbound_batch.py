"""The per-inbox outbound cap holds when batches of deliveries run at the same time (two
workers), and `ratelimit.take_many` never grants more than the cap between concurrent takers."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from frontdesk.conversations.service import DELIVER_JOB
from frontdesk.kit import ratelimit, uow
from frontdesk.kit.jobs import Job, JobRunner
from tests.channels.email.conftest import create_email_inbox
from tests.channels.email.mails import mail
from tests.channels.email.test_outbound import reply_to, status_of


class TestCapUnderConcurrency:
    async def test_two_workers_batches_send_no_more_than_the_cap(
        self, cast, mailer, relay, runtime
    ):
        await create_email_inbox(
            runtime,
            address="capped@frontdesk.test",
            outbound_per_minute=3,
            smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"},
        )
        for n in range(8):
            await mailer.send(mail(message_id=f"<b{n}@x>", sender=f"c{n}@example.com"),
                              to="capped@frontdesk.test")  # fmt: skip
        ids = [await reply_to(runtime, f"<b{n}@x>") for n in range(8)]
        first = JobRunner(runtime.db, runtime.settings, name="one")
        second = JobRunner(runtime.db, runtime.settings, name="two")
        mine = await first.claim(4, kinds=(DELIVER_JOB,))
        theirs = await second.claim(4, kinds=(DELIVER_JOB,))
        assert len(mine) == len(theirs) == 4
        await asyncio.gather(
            first.execute_batch(DELIVER_JOB, mine), second.execute_batch(DELIVER_JOB, theirs)
        )
        states = [await status_of(runtime, i) for i in ids]
        assert states.count("sent") == 3 and states.count("queued") == 5
        assert len(relay.envelopes) == 3
        async with runtime.db.session() as session:
            waiting = (
                await session.scalars(
                    select(Job).where(Job.kind == DELIVER_JOB, Job.state == "available")
                )
            ).all()
        # Past the cap a delivery waits for the next window without spending an attempt.
        assert len(waiting) == 5 and {job.attempts for job in waiting} == {0}
        assert all("outbound cap" in (job.last_error or "") for job in waiting)


class TestTakeMany:
    async def test_concurrent_takers_share_the_limit(self, runtime):
        async def take(n: int) -> int:
            async with runtime.db.session() as session:
                granted, _ = await ratelimit.take_many(session, "k", n, limit=10, now=120.0)
                await uow.commit(session)
                return granted

        granted = await asyncio.gather(*(take(3) for _ in range(6)))
        assert sum(granted) == 10 and all(0 <= g <= 3 for g in granted)

    async def test_a_full_window_says_how_long_to_wait(self, runtime):
        async with runtime.db.session() as session:
            assert await ratelimit.take_many(session, "k", 2, limit=2, now=130.0) == (2, 0.0)
            granted, wait = await ratelimit.take_many(session, "k", 1, limit=2, now=130.0)
            await uow.commit(session)
        assert granted == 0 and 49 < wait <= 50.01
        async with runtime.db.session() as session:  # the next window starts afresh
            assert (await ratelimit.take_many(session, "k", 5, limit=2, now=181.0))[0] == 2
            await uow.commit(session)
