"""take_in_many, the batch way in for mail: one transaction stores, dedupes or quarantines
each mail of a batch, and answers each in place."""

from __future__ import annotations

from sqlalchemy import update

from frontdesk.channels.email import service
from frontdesk.channels.email.models import Quarantined, SeenMail
from frontdesk.conversations.models import Message
from frontdesk.customers.models import Identity
from frontdesk.inboxes.models import Inbox
from frontdesk.kit import uow
from tests.channels.email.conftest import TRUSTED, create_email_inbox
from tests.channels.email.helpers import count, message_by_external
from tests.channels.email.mails import corpus, mail

BROKEN = next(c for c in corpus() if c.name == "no_from").raw


async def take_in_many(runtime, mails: list[service.IncomingMail]) -> list[object]:
    async with runtime.db.session() as session:
        outcomes = await service.take_in_many(
            session, mails, blobs=runtime.blobs, settings=runtime.settings, source="imap"
        )
        await uow.commit(session)
        return list(outcomes)


def statuses(outcomes: list[object]) -> list[str]:
    return [o.status if isinstance(o, service.Taken) else type(o).__name__ for o in outcomes]


class TestTakeInMany:
    async def test_stores_a_batch_and_quarantines_its_broken_mail(self, support, runtime):
        raws = [mail(message_id=f"<b{n}@x>", sender=f"c{n}@example.com") for n in range(4)]
        batch = [service.IncomingMail(support, raw) for raw in [*raws[:2], BROKEN, *raws[2:]]]
        outcomes = await take_in_many(runtime, batch)
        assert statuses(outcomes) == ["stored", "stored", "quarantined", "stored", "stored"]
        assert await count(runtime, Message) == 4
        assert await count(runtime, Quarantined) == 1
        assert await count(runtime, SeenMail) == 5
        stored = await message_by_external(runtime, "<b2@x>")
        assert stored is not None and outcomes[3].message_id == stored.id  # type: ignore[attr-defined]
        assert runtime.blobs.get(stored.meta["email"]["raw"]) == raws[2]

    async def test_repeats_within_a_batch_are_stored_once(self, support, runtime):
        one, other = mail(message_id="<r1@x>"), mail(message_id="<r2@x>")
        batch = [service.IncomingMail(support, raw) for raw in [one, other, one, BROKEN, BROKEN]]
        outcomes = await take_in_many(runtime, batch)
        assert statuses(outcomes) == ["stored", "stored", "duplicate", "quarantined", "duplicate"]
        assert outcomes[2].message_id == outcomes[0].message_id  # type: ignore[attr-defined]
        assert outcomes[4].quarantine_id == outcomes[3].quarantine_id  # type: ignore[attr-defined]
        assert await count(runtime, Message) == 2
        assert await count(runtime, Quarantined) == 1

    async def test_a_retried_batch_is_answered_as_duplicates(self, support, runtime):
        raws = [mail(message_id=f"<again{n}@x>") for n in range(3)] + [BROKEN]
        first = await take_in_many(runtime, [service.IncomingMail(support, r) for r in raws])
        again = await take_in_many(runtime, [service.IncomingMail(support, r) for r in raws])
        assert statuses(again) == ["duplicate"] * 4
        assert [o.message_id for o in again] == [o.message_id for o in first]  # type: ignore[attr-defined]
        assert again[3].quarantine_id == first[3].quarantine_id  # type: ignore[attr-defined]
        assert await count(runtime, Message) == 3
        assert await count(runtime, Quarantined) == 1

    async def test_a_mail_refused_alone_leaves_the_others_stored(self, support, runtime):
        closed = await create_email_inbox(runtime, name="Closed", address="closed@frontdesk.test")
        async with runtime.db.session() as session:
            await session.execute(update(Inbox).where(Inbox.id == closed).values(active=False))
            await session.commit()
        batch = [
            service.IncomingMail(support, mail(message_id="<ok1@x>")),
            service.IncomingMail(closed, mail(message_id="<closed@x>")),
            service.IncomingMail(support, mail(message_id="<bad@x>", sender="who@localhost")),
            service.IncomingMail(support, mail(message_id="<ok2@x>")),
        ]
        outcomes = await take_in_many(runtime, batch)
        # A sender address no rule normalises is kept as a raw identity: the mail is stored.
        assert statuses(outcomes) == ["stored", "LookupError", "stored", "stored"]
        assert await count(runtime, Message) == 3
        assert await count(runtime, SeenMail) == 3  # the refused one may come back later
        assert await count(runtime, Identity, Identity.kind == "raw") == 1


class TestParseAhead:
    async def test_a_mail_parsed_ahead_is_stored_from_that_parse(self, support, runtime):
        incoming = service.IncomingMail(support, mail(message_id="<ahead@x>"))
        service.parse_ahead(incoming, trusted_authserv_id=TRUSTED, app=runtime.settings)
        assert incoming.parsed is not None and incoming.parsed_for == TRUSTED
        assert statuses(await take_in_many(runtime, [incoming])) == ["stored"]

    async def test_a_parse_for_another_trusted_hop_is_done_again(self, support, runtime):
        # The inbox trusts TRUSTED; the mail was parsed ahead while it still trusted "old-mx".
        raw = mail(
            message_id="<hop@x>",
            headers={"Authentication-Results": f"{TRUSTED}; spf=pass smtp.mailfrom=example.com"},
        )
        incoming = service.IncomingMail(support, raw)
        service.parse_ahead(incoming, trusted_authserv_id="old-mx.example", app=runtime.settings)
        assert statuses(await take_in_many(runtime, [incoming])) == ["stored"]
        stored = await message_by_external(runtime, "<hop@x>")
        assert stored is not None
        assert stored.meta["email"]["auth"]["trusted"] is True
        assert stored.meta["email"]["auth"]["spf"] == "pass"

    async def test_broken_mail_parsed_ahead_is_quarantined(self, support, runtime):
        incoming = service.IncomingMail(support, BROKEN)
        service.parse_ahead(incoming, trusted_authserv_id=TRUSTED, app=runtime.settings)
        assert statuses(await take_in_many(runtime, [incoming])) == ["quarantined"]
        assert await count(runtime, Quarantined) == 1


class TestRawIdentityLookup:
    async def test_the_customer_of_a_raw_sender_is_found_by_that_address(
        self, support, runtime, client, cast
    ):
        # Was 422 invalid_address: the lookup normalised it as an e-mail, which it is not.
        [outcome] = await take_in_many(
            runtime,
            [service.IncomingMail(support, mail(message_id="<raw@x>", sender="Who@LocalHost"))],
        )
        assert statuses([outcome]) == ["stored"]
        found = await client.get(
            "/api/v1/customers", params={"identity": " who@localhost"}, headers=cast.ada.headers
        )
        assert found.status_code == 200, found.text
        [customer] = found.json()["items"]
        assert [(i["kind"], i["address"]) for i in customer["identities"]] == [
            ("raw", "who@localhost")
        ]
