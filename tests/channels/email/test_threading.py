"""Threading: 50 reply chains from different clients land in their conversations; spoofed
replies, forged tokens, the Ticket Trick and same-subject strangers never do."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.kit import uow
from tests.channels.email.helpers import conversations as all_conversations
from tests.channels.email.helpers import events, message_by_external
from tests.channels.email.mails import SUPPORT, mail, reply
from tests.conftest import run_jobs

STYLES = ("gmail", "outlook", "apple")


async def agent_reply(runtime, conversation_id: int, text: str) -> None:
    async with runtime.db.session() as session:
        conversation = await conversations_repository.get_conversation(session, conversation_id)
        assert conversation is not None
        await conversations.reply(session, conversation, author=None, data=ReplyCreate(text=text))
        await uow.commit(session)


def sent_to(relay, address: str) -> EmailMessage:
    found = [m for m in relay.mails if address in str(m["To"])]
    assert found, f"nothing was sent to {address}"
    return found[-1]


async def open_thread(runtime, mailer, relay, n: int) -> tuple[int, EmailMessage, bytes]:
    address = f"customer{n}@example.com"
    first = mail(sender=f"Customer {n} <{address}>", message_id=f"<new{n}@client.example>",
                 subject=f"Problem {n % 3}", text=f"first message of chain {n}")  # fmt: skip
    await mailer.send(first)
    stored = await message_by_external(runtime, f"<new{n}@client.example>")
    assert stored is not None
    await agent_reply(runtime, stored.conversation_id, f"agent answer {n}")
    return stored.conversation_id, EmailMessage(), first


class TestReplyChains:
    async def test_fifty_chains_from_different_clients_thread_correctly(
        self, support, mailer, relay, runtime
    ):
        opened = {}
        for n in range(50):
            conversation_id, _, first = await open_thread(runtime, mailer, relay, n)
            opened[n] = (conversation_id, first)
        # The 50 deliveries (and what other domains do after each customer's mail) all ran.
        assert await run_jobs(runtime) >= 50 and await run_jobs(runtime) == 0
        assert len(relay.mails) == 50
        for n, (conversation_id, first) in opened.items():
            address = f"customer{n}@example.com"
            ours = sent_to(relay, address)
            variant = n % 5
            if variant == 3:
                # A follow-up to their own first mail (In-Reply-To is their Message-ID).
                raw = reply(first, sender=address, text=f"reply {n}", style=STYLES[n % 3],
                            message_id=f"<re{n}@client.example>", to=SUPPORT)  # fmt: skip
            else:
                raw = reply(
                    ours,
                    sender=f"Customer {n} <{address}>",
                    text=f"reply {n}",
                    style=STYLES[n % 3],
                    message_id=f"<re{n}@client.example>",
                    # 0: only References survive; 2: sent to the plain address, not Reply-To.
                    drop_in_reply_to=variant == 0,
                    to=SUPPORT if variant == 2 else None,
                )
            if variant == 4:
                # A client that drops In-Reply-To and References: the Reply-To token remains.
                parsed = message_from_bytes(raw, policy=policy.default)
                del parsed["In-Reply-To"]
                del parsed["References"]
                raw = parsed.as_bytes()
            await mailer.send(raw, to=str(ours["Reply-To"].addresses[0].addr_spec))
            stored = await message_by_external(runtime, f"<re{n}@client.example>")
            assert stored is not None
            assert stored.conversation_id == conversation_id, (n, variant)
            assert stored.text == f"reply {n}"
            assert "possible_spoof" not in stored.meta
        assert len(await all_conversations(runtime)) == 50


class TestSpoofing:
    async def test_a_reply_from_someone_else_opens_a_flagged_conversation(
        self, support, mailer, relay, runtime
    ):
        conversation_id, _, _ = await open_thread(runtime, mailer, relay, 1)
        await run_jobs(runtime)
        ours = sent_to(relay, "customer1@example.com")
        forged = reply(ours, sender="Mallory <mallory@evil.example>", text="send me the invoice",
                       message_id="<spoof@evil.example>")  # fmt: skip
        await mailer.send(forged, to=str(ours["Reply-To"].addresses[0].addr_spec))
        stored = await message_by_external(runtime, "<spoof@evil.example>")
        assert stored is not None
        assert stored.conversation_id != conversation_id
        assert stored.meta["possible_spoof"] == {"conversation_ids": [conversation_id]}
        flagged = await events(runtime, "conversation.flagged")
        assert [e.conversation_id for e in flagged] == [stored.conversation_id]
        async with runtime.db.session() as session:
            tags_of = await conversations_repository.tag_names_by_conversation(
                session, [stored.conversation_id, conversation_id]
            )
            tags = tags_of.get(stored.conversation_id, [])
            victim_tags = tags_of.get(conversation_id, [])
        assert tags == ["possible-spoof"] and victim_tags == []

    async def test_a_forged_token_is_no_hint_at_all(self, support, mailer, relay, runtime):
        conversation_id, _, _ = await open_thread(runtime, mailer, relay, 2)
        forged_to = f"support+c{conversation_id}.{'0' * 20}@frontdesk.test"
        await mailer.send(
            mail(sender="customer2@example.com", message_id="<tok@x>", text="hi again"),
            to=forged_to,
        )
        stored = await message_by_external(runtime, "<tok@x>")
        assert stored is not None and stored.conversation_id != conversation_id

    async def test_ticket_trick_verification_mail_never_reaches_the_requester(
        self, support, mailer, relay, runtime
    ):
        # Mallory opens a ticket, then signs up at a service with her ticket's reply address.
        conversation_id, _, _ = await open_thread(runtime, mailer, relay, 3)
        await run_jobs(runtime)
        token = str(sent_to(relay, "customer3@example.com")["Reply-To"].addresses[0].addr_spec)
        code = mail(sender="Slack <no-reply@slack.example>", subject="Your confirmation code",
                    text="Code: 424242", message_id="<code@slack.example>", to=token)  # fmt: skip
        await mailer.send(code, to=token)
        stored = await message_by_external(runtime, "<code@slack.example>")
        assert stored is not None and stored.conversation_id != conversation_id
        assert stored.meta["automated"] is True
        assert "automated_sender" in stored.meta["email"]["flags"]
        sent_before = len(relay.mails)
        await run_jobs(runtime)
        assert len(relay.mails) == sent_before  # nothing was mailed to anyone

    async def test_same_subject_never_merges_senders(self, support, mailer, runtime):
        for n, sender in enumerate(["a@example.com", "b@example.com", "a@example.com"]):
            await mailer.send(mail(sender=sender, subject="Invoice", message_id=f"<s{n}@x>"))
        ids = [(await message_by_external(runtime, f"<s{n}@x>")).conversation_id for n in range(3)]
        assert len(set(ids)) == 3


async def tags_of(runtime, conversation_id: int) -> list[str]:
    async with runtime.db.session() as session:
        found = await conversations_repository.tag_names_by_conversation(session, [conversation_id])
        await session.commit()
    return found.get(conversation_id, [])


def verdict(dmarc: str) -> dict[str, str]:
    """What the trusted MX (the inbox's trusted_authserv_id) writes above the mail."""
    return {
        "Authentication-Results": f"mx.frontdesk.test; spf=fail smtp.mailfrom=example.com;"
        f" dkim=none; dmarc={dmarc} header.from=example.com"
    }


class TestFailedDmarc:
    async def test_a_reply_failing_dmarc_opens_a_flagged_conversation(
        self, support, mailer, relay, runtime
    ):
        conversation_id, _, _ = await open_thread(runtime, mailer, relay, 4)
        await run_jobs(runtime)
        ours = sent_to(relay, "customer4@example.com")
        forged = reply(ours, sender="Customer 4 <customer4@example.com>", text="new IBAN: X",
                       message_id="<dmarc-fail@evil.example>")  # fmt: skip
        forged = forged.replace(b"MIME-Version", b"Authentication-Results: mx.frontdesk.test;"
                                b" spf=fail; dkim=none; dmarc=fail\r\nMIME-Version", 1)  # fmt: skip
        await mailer.send(forged, to=str(ours["Reply-To"].addresses[0].addr_spec))
        stored = await message_by_external(runtime, "<dmarc-fail@evil.example>")
        assert stored is not None
        assert stored.conversation_id != conversation_id
        assert stored.meta["possible_spoof"] == {
            "conversation_ids": [conversation_id], "sender_forged": True
        }  # fmt: skip
        assert await tags_of(runtime, stored.conversation_id) == ["possible-spoof"]
        assert await tags_of(runtime, conversation_id) == []
        flagged = await events(runtime, "conversation.flagged")
        assert [e.conversation_id for e in flagged] == [stored.conversation_id]

    async def test_a_new_mail_failing_dmarc_is_flagged_too(self, support, mailer, runtime):
        await mailer.send(mail(sender="layla@example.com", message_id="<plain-ok@x>"))
        forged = mail(sender="layla@example.com", message_id="<plain-fail@x>",
                      headers=verdict("fail"))  # fmt: skip
        await mailer.send(forged)
        good = await message_by_external(runtime, "<plain-ok@x>")
        bad = await message_by_external(runtime, "<plain-fail@x>")
        assert good is not None and bad is not None
        assert good.customer_id == bad.customer_id
        assert await tags_of(runtime, bad.conversation_id) == ["possible-spoof"]
        assert await tags_of(runtime, good.conversation_id) == []

    async def test_a_passing_or_untrusted_verdict_threads_as_usual(
        self, support, mailer, relay, runtime
    ):
        conversation_id, _, _ = await open_thread(runtime, mailer, relay, 5)
        await run_jobs(runtime)
        ours = sent_to(relay, "customer5@example.com")
        for n, headers in enumerate([verdict("pass"), {  # fail, but from a hop we do not trust
            "Authentication-Results": "mx.elsewhere.example; dmarc=fail"
        }]):  # fmt: skip
            raw = reply(ours, sender="customer5@example.com", text=f"ok {n}",
                        message_id=f"<dmarc-ok{n}@x>")  # fmt: skip
            name, value = next(iter(headers.items()))
            raw = raw.replace(b"MIME-Version", f"{name}: {value}\r\nMIME-Version".encode(), 1)
            await mailer.send(raw, to=str(ours["Reply-To"].addresses[0].addr_spec))
            stored = await message_by_external(runtime, f"<dmarc-ok{n}@x>")
            assert stored is not None and stored.conversation_id == conversation_id
            assert "possible_spoof" not in stored.meta
