"""Bounces of mail we sent (Postfix, Exchange, Gmail, qmail shapes) over our SMTP listener:
matched to the outbound message, which fails with the diagnostic; never a customer message;
a hard-bounced address gets no more mail."""

from __future__ import annotations

import re

from frontdesk.channels.email.imap import MailboxSync
from frontdesk.channels.email.models import Quarantined, SeenMail, Suppression
from frontdesk.channels.email.parsing import parse_mail
from frontdesk.conversations.models import Message
from frontdesk.kit import uow
from tests.channels.email.conftest import create_email_inbox
from tests.channels.email.dovecot import PASSWORD
from tests.channels.email.helpers import count, events, messages
from tests.channels.email.mails import (
    delayed_dsn,
    exchange_bounce,
    gmail_bounce,
    mail,
    postfix_bounce,
    qmail_bounce,
)
from tests.channels.email.test_outbound import reply_to, status_of
from tests.conftest import run_jobs


async def sent(runtime, mailer, relay, customer: str) -> tuple[int, bytes, str]:
    """A customer writes in, an agent answers: (outbound message id, the mail as sent, its
    Message-ID)."""
    await mailer.send(mail(sender=f"Customer <{customer}>", message_id=f"<in.{customer}>"))
    message_id = await reply_to(runtime, f"<in.{customer}>")
    await run_jobs(runtime)
    assert await status_of(runtime, message_id) == "sent"
    original = bytes(relay.envelopes[-1].original_content or b"")
    return message_id, original, str(relay.mails[-1]["Message-ID"])


async def outbound(runtime, message_id: int) -> Message:
    async with runtime.db.session() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        await uow.commit(session)
        return message


class TestMatching:
    async def test_postfix_dsn_fails_the_message_and_suppresses_the_address(
        self, support, mailer, relay, runtime
    ):
        message_id, original, _ = await sent(runtime, mailer, relay, "gone@example.net")
        before = await count(runtime, Message)
        await mailer.bounce(postfix_bounce(original, "gone@example.net"))
        failed = await outbound(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.delivery_error is not None
        assert "5.1.1" in failed.delivery_error and "User unknown" in failed.delivery_error
        assert failed.meta["bounce"]["permanent"] is True
        assert failed.meta["bounce"]["recipient"] == "gone@example.net"
        assert await count(runtime, Message) == before  # no customer message to answer
        [event] = await events(runtime, "email.bounced")
        assert event.conversation_id == failed.conversation_id
        assert event.payload["message_id"] == message_id
        assert event.payload["status"] == "5.1.1"
        assert await count(runtime, Suppression, Suppression.address == "gone@example.net") == 1

    async def test_exchange_ndr_with_returned_headers(self, support, mailer, relay, runtime):
        message_id, original, _ = await sent(runtime, mailer, relay, "nobody@contoso.com")
        await mailer.bounce(exchange_bounce(original, "nobody@contoso.com"))
        failed = await outbound(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.delivery_error is not None and "5.1.10" in failed.delivery_error
        assert "RecipientNotFound" in failed.delivery_error
        assert await count(runtime, Suppression) == 1

    async def test_gmail_dsn_matched_by_in_reply_to(self, support, mailer, relay, runtime):
        message_id, _, rfc_id = await sent(runtime, mailer, relay, "missing@gmail.com")
        await mailer.bounce(gmail_bounce(rfc_id, "missing@gmail.com"))
        failed = await outbound(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.delivery_error is not None and "does not exist" in failed.delivery_error

    async def test_qmail_prose_bounce_matched_by_the_quoted_message_id(
        self, support, mailer, relay, runtime
    ):
        message_id, original, _ = await sent(runtime, mailer, relay, "old@example.org")
        await mailer.bounce(qmail_bounce(original, "old@example.org"))
        failed = await outbound(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.meta["bounce"]["status"] == "5.1.1"
        assert await count(runtime, Suppression) == 1

    async def test_a_mailer_daemon_without_a_domain_is_still_a_bounce(
        self, support, mailer, relay, runtime
    ):
        # Postfix as some hosts configure it: "From: MAILER-DAEMON (Mail Delivery System)".
        message_id, original, _ = await sent(runtime, mailer, relay, "lost@example.org")
        bounce = postfix_bounce(original, "lost@example.org").replace(
            b"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
            b"From: MAILER-DAEMON (Mail Delivery System)",
        )
        assert b"From: MAILER-DAEMON (Mail" in bounce
        before = await count(runtime, Message)
        await mailer.bounce(bounce)
        failed = await outbound(runtime, message_id)
        assert failed.delivery_status == "failed"
        assert failed.meta["bounce"]["status"] == "5.1.1"
        assert await count(runtime, Message) == before
        assert await count(runtime, Quarantined) == 0

    async def test_a_delay_notice_records_an_event_and_changes_nothing(
        self, support, mailer, relay, runtime
    ):
        message_id, original, _ = await sent(runtime, mailer, relay, "slow@example.net")
        await mailer.bounce(delayed_dsn(original, "slow@example.net"))
        assert await status_of(runtime, message_id) == "sent"
        [event] = await events(runtime, "email.delivery_delayed")
        assert event.payload["status"] == "4.4.1" and event.payload["message_id"] == message_id
        assert await count(runtime, Suppression) == 0

    async def test_a_retried_bounce_is_taken_in_once(self, support, mailer, relay, runtime):
        _, original, _ = await sent(runtime, mailer, relay, "gone@example.net")
        bounce = postfix_bounce(original, "gone@example.net")
        await mailer.bounce(bounce)
        await mailer.bounce(bounce)
        assert len(await events(runtime, "email.bounced")) == 1
        assert await count(runtime, SeenMail) == 2  # the customer's mail and the bounce


class TestNotOurs:
    async def test_a_bounce_naming_a_forged_id_is_stored_flagged_and_matches_nothing(
        self, support, mailer, relay, runtime
    ):
        message_id, original, rfc_id = await sent(runtime, mailer, relay, "gone@example.net")
        # Our shape, with a signature we did not make.
        fake = re.sub(r"\.[0-9a-f]{20}@", "." + "0" * 20 + "@", rfc_id)
        assert fake != rfc_id
        forged = original.replace(rfc_id.encode(), fake.encode())
        await mailer.bounce(postfix_bounce(forged, "gone@example.net"))
        assert await status_of(runtime, message_id) == "sent"
        assert await count(runtime, Suppression) == 0
        stored = (await messages(runtime))[-1]
        assert stored.direction == "inbound"
        assert "bounce" in stored.meta["email"]["flags"] and stored.meta["automated"] is True


class TestSuppression:
    async def test_no_more_mail_goes_to_a_hard_bounced_address(
        self, support, mailer, relay, runtime
    ):
        _, original, _ = await sent(runtime, mailer, relay, "gone@example.net")
        await mailer.bounce(postfix_bounce(original, "gone@example.net"))
        relayed = len(relay.envelopes)
        again = await reply_to(runtime, "<in.gone@example.net>", text="Are you there?")
        await run_jobs(runtime)
        refused = await outbound(runtime, again)
        assert refused.delivery_status == "failed"
        assert refused.delivery_error is not None
        assert "suppressed after a hard bounce" in refused.delivery_error
        assert "5.1.1" in refused.delivery_error
        assert len(relay.envelopes) == relayed  # nothing was handed to the relay

    async def test_an_admin_lists_and_lifts_a_suppression(
        self, support, mailer, relay, runtime, client, cast
    ):
        _, original, _ = await sent(runtime, mailer, relay, "gone@example.net")
        await mailer.bounce(postfix_bounce(original, "gone@example.net"))
        listed = await client.get("/api/v1/email/suppressions", headers=cast.ada.headers)
        assert listed.status_code == 200
        [row] = listed.json()
        assert row["address"] == "gone@example.net" and row["status"] == "5.1.1"
        url = "/api/v1/email/suppressions/gone@example.net"
        assert (await client.delete(url, headers=cast.alice.headers)).status_code == 403
        assert (await client.delete(url, headers=cast.ada.headers)).status_code == 204
        assert (await client.delete(url, headers=cast.ada.headers)).status_code == 404
        again = await reply_to(runtime, "<in.gone@example.net>", text="Fixed?")
        await run_jobs(runtime)
        assert await status_of(runtime, again) == "sent"

    async def test_other_recipients_are_still_served(self, support, mailer, relay, runtime):
        _, original, _ = await sent(runtime, mailer, relay, "gone@example.net")
        await mailer.bounce(postfix_bounce(original, "gone@example.net"))
        message_id, _, _ = await sent(runtime, mailer, relay, "here@example.net")
        assert await status_of(runtime, message_id) == "sent"


class TestReading:
    def test_reads_each_shape(self):
        original = mail(message_id="<fd.1.2.0123456789abcdef0123@frontdesk.test>")
        for build, status in [
            (postfix_bounce, "5.1.1"),
            (exchange_bounce, "5.1.10"),
            (qmail_bounce, ""),
            (delayed_dsn, "4.4.1"),
        ]:
            report = parse_mail(build(original, "x@example.net")).bounce
            assert report is not None, build.__name__
            assert "<fd.1.2.0123456789abcdef0123@frontdesk.test>" in report.original_ids
            if status:
                assert [r.status for r in report.recipients] == [status], build.__name__
        gmail = parse_mail(gmail_bounce("<fd.3.4.x@frontdesk.test>", "x@gmail.com")).bounce
        assert gmail is not None and gmail.original_ids[0] == "<fd.3.4.x@frontdesk.test>"
        assert gmail.recipients[0].diagnostic.startswith("550-5.1.1 The email account")

    def test_ordinary_mail_has_no_bounce(self):
        assert parse_mail(mail()).bounce is None


class TestOverImap:
    async def test_a_bounce_in_the_polled_mailbox_fails_the_message(
        self, cast, runtime, relay, dovecot, imap_user
    ):
        inbox = await create_email_inbox(
            runtime,
            name=f"IMAP {imap_user}",
            address=f"{imap_user}@frontdesk.test",
            imap={"host": "127.0.0.1", "port": dovecot.port, "username": imap_user,
                  "password": PASSWORD, "security": "none", "timeout_seconds": 5},
            smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"},
        )  # fmt: skip
        sync = MailboxSync(runtime, inbox, owner="test")
        dovecot.append(imap_user, "INBOX", [mail(sender="gone@example.net", message_id="<im@x>")])
        assert await sync.once() == 1
        message_id = await reply_to(runtime, "<im@x>")
        await run_jobs(runtime)
        original = bytes(relay.envelopes[-1].original_content or b"")
        dovecot.append(imap_user, "INBOX", [postfix_bounce(original, "gone@example.net")])
        assert await sync.once() == 0  # nothing new stored: the bounce is a report
        failed = await outbound(runtime, message_id)
        assert failed.delivery_status == "failed" and failed.meta["bounce"]["status"] == "5.1.1"
        assert await count(runtime, Message) == 2
