"""Outbound mail through a real relay (aiosmtpd): MIME shape, encoded Arabic/Persian headers,
threading headers, none/STARTTLS/TLS with auth, loop protection and the per-inbox cap."""

from __future__ import annotations

import re
import ssl

from sqlalchemy import select, update

from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Attachment, Conversation, Message
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.customers.models import Customer
from frontdesk.kit import uow
from frontdesk.kit.jobs import Job
from tests.channels.email.conftest import Relay, create_email_inbox, start_relay
from tests.channels.email.helpers import message_by_external
from tests.channels.email.mails import mail
from tests.conftest import run_jobs


async def reply_to(runtime, external_id: str, *, text="Thanks", html=None, author_kind="agent"):
    stored = await message_by_external(runtime, external_id)
    assert stored is not None
    async with runtime.db.session() as session:
        conversation = await conversations_repository.get_conversation(
            session, stored.conversation_id
        )
        assert conversation is not None
        message = await conversations.reply(
            session,
            conversation,
            author=None,
            data=ReplyCreate(text=text, html=html),
            author_kind=author_kind,
        )
        await uow.commit(session)
        return message.id


async def status_of(runtime, message_id: int) -> str:
    async with runtime.db.session() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        status = message.delivery_status
        await session.commit()
        return status


class TestMime:
    async def test_reply_is_multipart_alternative_with_threading_headers(
        self, support, mailer, relay, runtime
    ):
        await mailer.send(
            mail(sender="عمر خليل <omar@example.org>", subject="طلب استرداد المبلغ",
                 message_id="<ar1@example.org>")
        )  # fmt: skip
        message_id = await reply_to(
            runtime, "<ar1@example.org>", text="سنعيد المبلغ", html="<p>سنعيد <b>المبلغ</b></p>"
        )
        async with runtime.db.session() as session:
            session.add(
                Attachment(
                    message_id=message_id,
                    filename="فاتورة.pdf",
                    content_type="application/pdf",
                    size=4,
                    blob_key=runtime.blobs.put(b"%PDF"),
                )
            )
            await session.commit()
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "sent"
        raw = bytes(relay.envelopes[0].original_content or b"")
        assert b"\xd8" not in raw.split(b"\r\n\r\n", 1)[0]  # headers are 7-bit encoded words
        sent = relay.mails[0]
        assert str(sent["Subject"]) == "Re: طلب استرداد المبلغ"
        assert sent["To"].addresses[0].display_name == "عمر خليل"
        assert sent["In-Reply-To"] == "<ar1@example.org>"
        assert "<ar1@example.org>" in str(sent["References"])
        assert re.fullmatch(
            r"<fd\.\d+\.\d+\.[0-9a-f]{20}@frontdesk\.test>", str(sent["Message-ID"])
        )
        assert re.fullmatch(
            r"support\+c\d+\.[0-9a-f]{20}@frontdesk\.test", sent["Reply-To"].addresses[0].addr_spec
        )
        assert sent.get_content_type() == "multipart/mixed"
        body = sent.get_body(("plain",))
        html = sent.get_body(("html",))
        assert body is not None and "سنعيد المبلغ" in body.get_content()
        assert html is not None and "<b>المبلغ</b>" in html.get_content()
        names = [part.get_filename() for part in sent.iter_attachments()]
        assert names == ["فاتورة.pdf"]
        stored = await message_by_external(runtime, "<ar1@example.org>")
        assert stored is not None and stored.answered is True
        async with runtime.db.session() as session:
            outbound = await session.get(Message, message_id)
            assert outbound is not None and outbound.meta["remote_id"] == str(sent["Message-ID"])
            await session.commit()


class TestTransport:
    async def _send_through(self, runtime, mailer, relay: Relay, security: str) -> None:
        inbox = await create_email_inbox(
            runtime,
            name=f"TLS {security}",
            address=f"{security}@frontdesk.test",
            smtp={
                "host": "127.0.0.1",
                "port": relay.port,
                "security": security,
                "username": "frontdesk",
                "password": "relay-pass",
                "verify_tls": False,
            },
        )
        assert inbox
        await mailer.send(mail(message_id=f"<{security}@x>"), to=f"{security}@frontdesk.test")
        message_id = await reply_to(runtime, f"<{security}@x>")
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "sent"
        assert len(relay.envelopes) == 1 and relay.logins == ["frontdesk"]

    async def test_starttls_with_auth(self, cast, mailer, runtime, tls_files):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls_files)
        sink = Relay()
        from tests.channels.email.conftest import _authenticator

        server = await start_relay(
            sink, tls_context=context, require_starttls=True, authenticator=_authenticator(sink)
        )
        try:
            await self._send_through(runtime, mailer, sink, "starttls")
        finally:
            server.close()

    async def test_implicit_tls_with_auth(self, cast, mailer, runtime, tls_files):
        import asyncio

        from aiosmtpd.smtp import SMTP

        from tests.channels.email.conftest import _authenticator

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls_files)
        sink = Relay()
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(sink, authenticator=_authenticator(sink), auth_require_tls=False),
            "127.0.0.1",
            0,
            ssl=context,
        )
        sink.port = server.sockets[0].getsockname()[1]
        try:
            await self._send_through(runtime, mailer, sink, "tls")
        finally:
            server.close()

    async def test_relay_refusal_fails_the_message_for_good(self, support, mailer, relay, runtime):
        relay.refuse_with = "554 5.7.1 rejected"
        await mailer.send(mail(message_id="<rf@x>"))
        message_id = await reply_to(runtime, "<rf@x>")
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "failed"

    async def test_temporary_refusal_is_retried(self, support, mailer, relay, runtime):
        relay.refuse_with = "451 4.3.0 later"
        await mailer.send(mail(message_id="<tr@x>"))
        message_id = await reply_to(runtime, "<tr@x>")
        await run_jobs(runtime, rounds=1)
        assert await status_of(runtime, message_id) == "queued"
        relay.refuse_with = None
        import asyncio

        await asyncio.sleep(0.1)
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "sent"


class TestLoops:
    async def test_no_automatic_answer_to_an_auto_reply(self, support, mailer, relay, runtime):
        await mailer.send(mail(message_id="<oof@x>", headers={"Auto-Submitted": "auto-replied"}))
        bot = await reply_to(runtime, "<oof@x>", author_kind="bot")
        person = await reply_to(runtime, "<oof@x>", text="a person answers")
        await run_jobs(runtime)
        assert await status_of(runtime, bot) == "failed"
        assert await status_of(runtime, person) == "sent"
        assert len(relay.envelopes) == 1

    async def test_import_only_inbox_sends_no_automatic_mail(self, cast, mailer, relay, runtime):
        await create_email_inbox(
            runtime,
            address="history@frontdesk.test",
            import_only=True,
            smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"},
        )
        await mailer.send(mail(message_id="<old@x>"), to="history@frontdesk.test")
        stored = await message_by_external(runtime, "<old@x>")
        assert stored is not None and "imported" in stored.meta["email"]["flags"]
        bot = await reply_to(runtime, "<old@x>", author_kind="bot")
        await run_jobs(runtime)
        assert await status_of(runtime, bot) == "failed" and relay.envelopes == []

    async def test_import_only_inbox_still_sends_what_an_agent_writes(
        self, cast, mailer, relay, runtime
    ):
        await create_email_inbox(
            runtime,
            address="history@frontdesk.test",
            import_only=True,
            smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"},
        )
        await mailer.send(mail(message_id="<old2@x>"), to="history@frontdesk.test")
        person = await reply_to(runtime, "<old2@x>", text="Sorry for the wait")
        await run_jobs(runtime)
        assert await status_of(runtime, person) == "sent" and len(relay.envelopes) == 1

    async def test_outbound_cap_per_inbox_postpones_without_spending_attempts(
        self, cast, mailer, relay, runtime
    ):
        await create_email_inbox(
            runtime,
            address="capped@frontdesk.test",
            outbound_per_minute=2,
            smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"},
        )
        for n in range(3):
            await mailer.send(mail(message_id=f"<cap{n}@x>", sender=f"c{n}@example.com"),
                              to="capped@frontdesk.test")  # fmt: skip
        ids = [await reply_to(runtime, f"<cap{n}@x>") for n in range(3)]
        await run_jobs(runtime)
        statuses = [await status_of(runtime, i) for i in ids]
        assert statuses.count("sent") == 2 and statuses.count("queued") == 1
        async with runtime.db.session() as session:
            waiting = (await session.scalars(select(Job).where(Job.state == "available"))).all()
            assert len(waiting) == 1 and waiting[0].attempts == 0
            assert "outbound cap" in (waiting[0].last_error or "")


class TestAgentFiles:
    async def test_agent_upload_goes_out_as_a_mail_attachment(
        self, support, mailer, relay, runtime, client, cast
    ):
        await mailer.send(mail(sender="omar@example.org", message_id="<f1@example.org>"))
        stored = await message_by_external(runtime, "<f1@example.org>")
        assert stored is not None
        base = f"/api/v1/conversations/{stored.conversation_id}"
        uploaded = await client.post(
            f"{base}/uploads",
            files={"file": ("\u202e" + "فاتورة.pdf", b"%PDF-1.4 list", "application/pdf")},
            headers=cast.ada.headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        sent = await client.post(
            f"{base}/messages",
            json={"text": "The list", "attachment_ids": [uploaded.json()["id"]]},
            headers=cast.ada.headers,
        )
        assert sent.status_code == 201, sent.text
        await run_jobs(runtime)
        assert await status_of(runtime, sent.json()["id"]) == "sent"
        [part] = list(relay.mails[0].iter_attachments())
        assert part.get_filename() == "فاتورة.pdf"
        assert part.get_content() == b"%PDF-1.4 list"


class TestInternalRelays:
    """The webhook SSRF guard covers the SMTP relay: refused when the inbox is saved, and at
    each connection (a permanent failure: nothing retries against an internal host)."""

    async def test_a_private_relay_is_refused_when_saved(self, client, cast, runtime):
        runtime.settings.allow_private_webhooks = False
        for host in ("127.0.0.1", "localhost", "169.254.169.254", "10.0.0.8"):
            response = await client.post(
                "/api/v1/inboxes",
                json={
                    "channel": "email",
                    "name": "Probe",
                    "address": "probe@frontdesk.test",
                    "smtp": {"host": host, "port": 6379, "security": "none"},
                },
                headers=cast.ada.headers,
            )
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "forbidden_url"

    async def test_a_private_relay_is_refused_at_connect_time(
        self, support, mailer, relay, runtime
    ):
        await mailer.send(mail(message_id="<probe@x>"))
        runtime.settings.allow_private_webhooks = False  # saved while allowed
        message_id = await reply_to(runtime, "<probe@x>")
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "failed"
        assert relay.envelopes == []
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None and "SSRF" in (message.delivery_error or "")
            await session.commit()
class TestHeaderInjection:
    async def test_line_breaks_stored_in_a_name_or_subject_fold_into_one_header_line(
        self, support, mailer, relay, runtime
    ):
        # Stored before the API refused such input (or by a path that does not check it).
        await mailer.send(mail(sender="Layla <layla@example.com>", message_id="<crlf@x>"))
        stored = await message_by_external(runtime, "<crlf@x>")
        assert stored is not None
        async with runtime.db.session() as session:
            await session.execute(
                update(Customer)
                .where(Customer.id == stored.customer_id)
                .values(name="Layla\r\nBcc: victim@example.com")
            )
            await session.execute(
                update(Conversation)
                .where(Conversation.id == stored.conversation_id)
                .values(subject="Order\r\nBcc: victim@example.com")
            )
            await session.commit()
        message_id = await reply_to(runtime, "<crlf@x>")
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "sent"
        sent = relay.mails[0]
        assert str(sent["Subject"]) == "Re: Order Bcc: victim@example.com"
        assert sent["To"].addresses[0].display_name == "Layla Bcc: victim@example.com"
        assert sent["Bcc"] is None
        assert [e.rcpt_tos for e in relay.envelopes] == [["layla@example.com"]]

    async def test_a_raw_sender_identity_fails_the_reply_for_good(
        self, support, mailer, relay, runtime
    ):
        await mailer.send(mail(sender="redacted@redacted", message_id="<raw@x>"))
        message_id = await reply_to(runtime, "<raw@x>")
        await run_jobs(runtime, rounds=1)
        async with runtime.db.session() as session:
            message = await session.get(Message, message_id)
            assert message is not None
            jobs = (await session.scalars(select(Job))).all()
            await session.commit()
        assert message.delivery_status == "failed"
        assert "not an e-mail address" in (message.delivery_error or "")
        assert all(job.attempts <= 1 for job in jobs)  # refused at once, never retried
        assert relay.envelopes == []
