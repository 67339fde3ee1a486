"""Inbound SMTP against our real listener: 250 only after commit, 4xx on temporary failure,
550 for strangers, limits, dedupe of retries, quarantine that never blocks, kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import aiosmtplib
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from frontdesk.channels.email import service
from frontdesk.channels.email.models import SeenMail
from frontdesk.conversations.models import Message
from frontdesk.customers.models import Customer, Identity
from frontdesk.kit import uow
from tests.channels.email.helpers import (
    count,
    events,
    message_by_external,
    messages,
    quarantined,
)
from tests.channels.email.mails import SUPPORT, corpus, mail
from tests.conftest import free_port


class TestAccepting:
    async def test_mail_is_stored_before_the_250(self, support, mailer, runtime):
        _, reply = await mailer.send(mail(message_id="<a1@example.com>"))
        assert reply.startswith("2.0.0")
        stored = await message_by_external(runtime, "<a1@example.com>")
        assert stored is not None and stored.channel == "email"
        assert stored.text == "Hello, where is my order?"
        assert stored.meta["email"]["auth"]["trusted"] is False

    async def test_unknown_recipient_gets_550(self, support, mailer, runtime):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await mailer.send(mail(), to="nobody@frontdesk.test")
        assert refused.value.recipients[0].code == 550
        assert await count(runtime, Message) == 0

    async def test_plus_address_reaches_its_inbox(self, support, mailer, runtime):
        await mailer.send(mail(message_id="<plus@x>"), to="support+anything@frontdesk.test")
        assert await message_by_external(runtime, "<plus@x>") is not None

    async def test_retry_of_the_same_message_is_stored_once(self, support, mailer, runtime):
        raw = mail(message_id="<same@example.com>")
        await asyncio.gather(*(mailer.send(raw) for _ in range(3)))
        await mailer.send(raw)
        assert await count(runtime, Message) == 1

    async def test_temporary_failure_answers_451_and_the_retry_is_stored(
        self, support, mailer, runtime, monkeypatch
    ):
        real = service.take_in_many
        calls = {"n": 0}

        async def flaky(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 1:
                raise OperationalError("INSERT", {}, Exception("database is locked"))
            return await real(*args, **kwargs)

        monkeypatch.setattr(service, "take_in_many", flaky)
        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            await mailer.send(mail(message_id="<tmp@x>"))
        assert failed.value.code == 451
        assert await count(runtime, Message) == 0
        await mailer.send(mail(message_id="<tmp@x>"))
        assert await count(runtime, Message) == 1

    async def test_a_database_failure_while_reading_the_recipients_answers_451_not_500(
        self, support, mailer, runtime, listener
    ):
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=mailer.port) as smtp:
            await smtp.ehlo()
            await smtp.mail("a@example.com")
            await smtp.rcpt(SUPPORT)
            # The address table is read again at DATA (its cache expired) and the read fails.
            listener.handler._loaded_at = float("-inf")
            await rename_inboxes(runtime, "inboxes", "inboxes_away")
            try:
                with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                    await smtp.data(mail(message_id="<down@x>"))
            finally:
                await rename_inboxes(runtime, "inboxes_away", "inboxes")
        assert refused.value.code == 451
        await mailer.send(mail(message_id="<down@x>"))  # the relay's retry is stored
        assert await count(runtime, Message) == 1

    async def test_oversized_mail_is_refused(self, support, mailer, runtime, listener):
        runtime.settings.smtp_max_bytes = 20_000
        await listener.stop()
        await listener.start()
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(
                mail(text="x" * 50_000),
                sender="a@example.com",
                recipients=[SUPPORT],
                hostname="127.0.0.1",
                port=listener.port,
                start_tls=False,
            )
        assert refused.value.code == 552
        assert await count(runtime, Message) == 0

    async def test_a_sender_over_its_rate_gets_450(self, support, mailer, runtime, listener):
        listener.handler.limiter.per_minute = 3
        for n in range(3):
            await mailer.send(mail(message_id=f"<r{n}@x>"), sender="flood@example.com")
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await mailer.send(mail(message_id="<r4@x>"), sender="flood@example.com")
        assert refused.value.code == 450
        await mailer.send(mail(message_id="<r5@x>"), sender="calm@example.com")
        assert await count(runtime, Message) == 4


def batching(monkeypatch, *, fail_first_batch: bool = False) -> list[int]:
    """Hold the first transaction a moment so the other sessions queue behind it and share
    the next one; returns the size of every batch taken in."""
    real = service.take_in_many
    sizes: list[int] = []
    failed: list[int] = []

    async def spy(session, mails, **kwargs):  # type: ignore[no-untyped-def]
        sizes.append(len(mails))
        if len(sizes) == 1:
            await asyncio.sleep(0.3)
        if fail_first_batch and len(mails) > 1 and not failed:
            failed.append(len(mails))
            raise IntegrityError("INSERT", {}, Exception("raced by another process"))
        session.info.setdefault("raws", []).extend(m.raw for m in mails)
        return await real(session, mails, **kwargs)

    monkeypatch.setattr(service, "take_in_many", spy)
    return sizes


def committed_raws(monkeypatch) -> set[bytes]:
    """The raw mails whose transaction has committed (filled right after each commit)."""
    committed: set[bytes] = set()
    real = uow.commit

    async def spy(session):  # type: ignore[no-untyped-def]
        result = await real(session)
        committed.update(session.info.pop("raws", []))
        return result

    monkeypatch.setattr(uow, "commit", spy)
    return committed


async def rename_inboxes(runtime, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    """A real database failure for every reader of the inboxes table, until renamed back."""
    async with runtime.db.session() as session:
        await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
        await session.commit()


class TestConcurrentSessions:
    async def test_sessions_share_a_commit_and_each_250_follows_it(
        self, support, mailer, runtime, monkeypatch
    ):
        sizes = batching(monkeypatch)
        committed = committed_raws(monkeypatch)

        async def deliver(n: int) -> None:
            raw = mail(message_id=f"<s{n}@x>", sender=f"c{n}@example.com", text=f"hi {n}")
            _, reply = await mailer.send(raw)
            assert reply.startswith("2.0.0")
            assert raw in committed  # the 250 came after the commit that stored it

        await asyncio.gather(*(deliver(n) for n in range(8)))
        assert max(sizes) > 1  # sessions did share a transaction
        assert await count(runtime, Message) == 8
        assert await count(runtime, SeenMail) == 8

    async def test_one_message_id_from_concurrent_sessions_is_stored_once(
        self, support, mailer, runtime, monkeypatch
    ):
        sizes = batching(monkeypatch)
        raw = mail(message_id="<twice@x>")
        others = [mail(message_id=f"<o{n}@x>") for n in range(2)]
        replies = await asyncio.gather(*(mailer.send(r) for r in [raw, *others, raw, raw]))
        assert all(reply.startswith("2.0.0") for _, reply in replies)
        assert max(sizes) > 1
        assert await count(runtime, Message) == 3
        assert await count(runtime, SeenMail) == 3

    async def test_a_mail_from_an_unreadable_sender_is_stored_with_its_batch(
        self, support, mailer, runtime, monkeypatch
    ):
        # Was 451 for ever (issue 9): the sender is kept as a raw identity instead.
        sizes = batching(monkeypatch)
        good = [mail(message_id=f"<g{n}@x>") for n in range(4)]
        odd = mail(message_id="<odd@x>", sender="who@localhost")
        results = await asyncio.gather(*(mailer.send(r) for r in [*good[:2], odd, *good[2:]]))
        assert all(reply.startswith("2.0.0") for _, reply in results)
        assert max(sizes) > 1
        assert await count(runtime, Message) == 5

    async def test_a_batch_that_fails_is_replayed_mail_by_mail(
        self, support, mailer, runtime, monkeypatch
    ):
        sizes = batching(monkeypatch, fail_first_batch=True)
        committed = committed_raws(monkeypatch)
        raws = [mail(message_id=f"<f{n}@x>") for n in range(5)]
        replies = await asyncio.gather(*(mailer.send(r) for r in raws))
        assert all(reply.startswith("2.0.0") for _, reply in replies)
        assert sizes.count(1) > 1  # replayed one per transaction after the batch failed
        assert committed == set(raws)
        assert await count(runtime, Message) == 5


class TestUnreadableSenders:
    @pytest.mark.parametrize(
        ("sender", "kind", "address"),
        [
            ("someone@yahoo.com.", "email", "someone@yahoo.com"),
            (
                '"Millions Lottery Spain transfer"@example.com',
                "raw",
                '"millions lottery spain transfer"@example.com',
            ),
            ("redacted@redacted", "raw", "redacted@redacted"),
            ("Test test@example.com", "raw", "test test@example.com"),
        ],
    )
    async def test_real_senders_the_store_once_refused_are_stored(
        self, support, mailer, runtime, sender, kind, address
    ):
        _, reply = await mailer.send(mail(sender=sender, message_id="<sender@x>"))
        assert reply.startswith("2.0.0")
        _, again = await mailer.send(mail(sender=sender, message_id="<sender@x>"))
        assert again.startswith("2.0.0")
        stored = await message_by_external(runtime, "<sender@x>")
        assert stored is not None and await count(runtime, Message) == 1
        async with runtime.db.session() as session:
            identity = await session.get(Identity, stored.identity_id)
            await session.commit()
        assert identity is not None and (identity.kind, identity.address) == (kind, address)

    async def test_a_display_name_longer_than_its_column_is_cut(self, support, mailer, runtime):
        # Was 451 for ever on PostgreSQL (customers.name is 300 characters).
        _, reply = await mailer.send(mail(sender=f'"{"N" * 400}" <n@example.com>'))
        assert reply.startswith("2.0.0")
        [stored] = await messages(runtime)
        async with runtime.db.session() as session:
            customer = await session.get(Customer, stored.customer_id)
            await session.commit()
        assert customer is not None and customer.name == "N" * 300

    async def test_nul_bytes_anywhere_in_a_mail_are_stored_as_replacement_characters(
        self, support, mailer, runtime
    ):
        raw = (
            b'From: "La\x00yla" <layla@example.com>\r\nTo: support@frontdesk.test\r\n'
            b"Subject: Order\x00 4411\r\nMessage-ID: <nul\x00@x>\r\nX-Trace: \x00\r\n"
            b"\r\nWhere is\x00 my order?\r\n"
        )
        _, reply = await mailer.send(raw)
        assert reply.startswith("2.0.0")
        [stored] = await messages(runtime)
        assert "\x00" not in stored.text and "\ufffd" in stored.text
        assert "\x00" not in (stored.external_id or "")


class TestBrokenMail:
    async def test_broken_mail_is_quarantined_and_the_next_one_flows(
        self, support, mailer, runtime
    ):
        broken = next(c for c in corpus() if c.name == "no_from").raw
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=mailer.port, start_tls=False)
        async with client:
            await client.sendmail("a@example.com", [SUPPORT], broken)
            await client.sendmail("a@example.com", [SUPPORT], mail(message_id="<after@x>"))
            await client.sendmail("a@example.com", [SUPPORT], broken)  # a retry: kept once
        items = await quarantined(runtime)
        assert len(items) == 1 and items[0].reason == "no usable From address"
        assert runtime.blobs.get(items[0].blob_key) == broken
        assert len(await events(runtime, "email.quarantined")) == 1
        assert await message_by_external(runtime, "<after@x>") is not None

    async def test_the_whole_corpus_lands_as_expected(self, support, mailer, runtime):
        cases = corpus()
        for case in cases:
            await mailer.send(case.raw)
        expected_quarantined = sum(1 for c in cases if c.outcome == "quarantined")
        assert len(await quarantined(runtime)) == expected_quarantined
        assert await count(runtime, Message) == len(cases) - expected_quarantined
        bounce = await message_by_external(runtime, "<dsn1@mx.example.net>")
        assert bounce is not None and "bounce" in bounce.meta["email"]["flags"]
        assert bounce.meta["automated"] is True
        forged = await message_by_external(runtime, "<c45@x>")
        assert forged is not None
        # The sender wrote "spf=pass" with our authserv-id, but not at the top of a header
        # block our MX wrote: here no trusted hop added one, so it is the topmost and would
        # be believed — which is why the MX must strip such headers (docs/email.md).
        assert forged.meta["email"]["auth"]["authserv_id"] == "mx.frontdesk.test"


SERVE = """
import sys
from frontdesk.cli import main
sys.argv = ["frontdesk", "serve", "--port", sys.argv[1]]
main()
"""


def _start_server(db_url: str, data_dir: str, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FRONTDESK_DATABASE_URL": db_url,
        "FRONTDESK_DATA_DIR": data_dir,
        "FRONTDESK_SECRET_KEY": "kill-nine-test-secret-key-0123456789",
        "FRONTDESK_SMTP_PORT": str(smtp_port),
        "FRONTDESK_IMAP_ENABLED": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-c", SERVE, str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a loaded machine starts a server in tens of seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((process.stderr.read() if process.stderr else b"").decode())
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError("server did not open its SMTP port")


class TestCrash:
    async def test_kill_9_right_after_250_loses_nothing(self, support, runtime, settings, tmp_path):
        port = free_port()
        process = _start_server(settings.resolved_database_url, str(tmp_path / "srv"), port)
        try:
            await _wait_for_port(port, process)
            raws = [mail(message_id=f"<k{n}@example.com>", text=f"crash {n}") for n in range(5)]
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await client.connect()
            for raw in raws:
                await client.sendmail("a@example.com", [SUPPORT], raw)
            # The last 250 just arrived: kill the server before it can do anything else.
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            client.close()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        for n in range(5):
            assert await message_by_external(runtime, f"<k{n}@example.com>") is not None
        # After the restart, the sender's retry of a message it already got 250 for is a no-op.
        process = _start_server(settings.resolved_database_url, str(tmp_path / "srv"), port)
        try:
            await _wait_for_port(port, process)
            await aiosmtplib.send(
                raws[-1], sender="a@example.com", recipients=[SUPPORT],
                hostname="127.0.0.1", port=port, start_tls=False,
            )  # fmt: skip
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        assert await count(runtime, Message) == 5


class TestPathParsing:
    def test_plain_paths_read_as_aiosmtpd_reads_them(self):
        from aiosmtpd.smtp import SMTP

        from frontdesk.channels.email.smtp import _SMTP

        ours = _SMTP(object())
        for arg in [
            "<mta@bench.example>",
            "<mta@bench.example> SIZE=1000 BODY=8BITMIME",
            " <a.b+c@x.y>",
            "<>",
            '<"q u"@x.y>',
            "<a@b.c>(comment) SIZE=1",
            "<a@b.c>X",
            "a@b.c",
            "<@route:a@b.c>",
            "<not an address",
        ]:
            assert ours._getaddr(arg) == SMTP._getaddr(ours, arg), arg
