"""IMAP against a real Dovecot: incremental sync, UIDVALIDITY change, a 2,000-mail backlog,
deleted conversations, a connection cut mid-fetch, delete-after-import, the lease, IDLE and
polling, and the alert for a mailbox that keeps failing."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import pytest
from sqlalchemy import delete, update

from frontdesk.channels.email.imap import ImapError, ImapPoller, MailboxSync
from frontdesk.channels.email.models import Mailbox
from frontdesk.conversations.models import Conversation, Message
from frontdesk.kit.errors import Invalid
from tests.channels.email.conftest import create_email_inbox
from tests.channels.email.dovecot import PASSWORD, running_dovecot
from tests.channels.email.helpers import count, events, message_by_external, quarantined
from tests.channels.email.mails import corpus, mail
from tests.conftest import free_port

BROKEN = next(c for c in corpus() if c.name == "no_from").raw


def batch(prefix: str, n: int, *, size: int = 0) -> list[bytes]:
    return [
        mail(
            sender=f"c{i % 50}@example.com",
            message_id=f"<{prefix}{i}@example.com>",
            text=f"message {prefix}{i}\n" + "x" * size,
        )
        for i in range(n)
    ]


async def imap_inbox(runtime, dovecot, user: str, *, port: int | None = None, **imap) -> int:
    return await create_email_inbox(
        runtime,
        name=f"IMAP {user}",
        address=f"{user}@frontdesk.test",
        imap={
            "host": "127.0.0.1",
            "port": port or dovecot.port,
            "username": user,
            "password": PASSWORD,
            "security": "none",
            "timeout_seconds": 5,
            **imap,
        },
    )


async def mailbox_row(runtime, inbox_id: int) -> Mailbox:
    from sqlalchemy import select

    async with runtime.db.session() as session:
        row = await session.scalar(select(Mailbox).where(Mailbox.inbox_id == inbox_id))
        assert row is not None
        await session.commit()
        return row


class TestSync:
    async def test_imports_new_mail_only_once_and_keeps_it_on_the_server(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user)
        dovecot.append(imap_user, "INBOX", batch("a", 3))
        sync = MailboxSync(runtime, inbox, owner="test")
        assert await sync.once() == 3
        dovecot.append(imap_user, "INBOX", batch("b", 2))
        assert await sync.once() == 2
        assert await sync.once() == 0
        assert await count(runtime, Message) == 5
        row = await mailbox_row(runtime, inbox)
        assert row.last_uid == 5 and row.imported == 5 and row.uidvalidity
        client = dovecot.imap(imap_user)
        try:
            assert client.select("INBOX")[1] == [b"5"]  # nothing was deleted on the server
        finally:
            client.logout()

    async def test_uidvalidity_change_resyncs_without_reimporting(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user, folder="Support")
        first = batch("u", 3)
        dovecot.append(imap_user, "Support", first)
        sync = MailboxSync(runtime, inbox, owner="test")
        assert await sync.once() == 3
        before = (await mailbox_row(runtime, inbox)).uidvalidity
        dovecot.recreate(imap_user, "Support", [*first, *batch("v", 1)])
        assert await sync.once() == 1
        assert await count(runtime, Message) == 4
        assert (await mailbox_row(runtime, inbox)).uidvalidity != before
        assert len(await events(runtime, "email.mailbox_resync")) == 1

    async def test_backlog_of_two_thousand_after_an_outage_is_imported_exactly_once(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user)
        dovecot.append(imap_user, "INBOX", batch("pre", 5))
        sync = MailboxSync(runtime, inbox, owner="test")
        assert await sync.once() == 5
        # The outage: 2,000 mails arrive while nobody polls.
        dovecot.deliver_files(imap_user, "INBOX", batch("backlog", 2000))
        assert await sync.once() == 2000
        assert await sync.once() == 0
        assert await count(runtime, Message) == 2005
        assert (await mailbox_row(runtime, inbox)).last_uid == 2005

    async def test_mail_of_a_deleted_conversation_is_not_imported_again(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user, folder="Support")
        mails = [mail(sender="keep@example.com", message_id="<keep@x>"),
                 mail(sender="gone@example.com", message_id="<gone@x>")]  # fmt: skip
        dovecot.append(imap_user, "Support", mails)
        sync = MailboxSync(runtime, inbox, owner="test")
        assert await sync.once() == 2
        gone = await message_by_external(runtime, "<gone@x>")
        assert gone is not None
        async with runtime.db.session() as session:
            await session.execute(
                delete(Conversation).where(Conversation.id == gone.conversation_id)
            )
            await session.commit()
        # Even a full resync (new UIDVALIDITY) leaves it out: the seen-index remembers it.
        dovecot.recreate(imap_user, "Support", mails)
        assert await sync.once() == 0
        assert await message_by_external(runtime, "<gone@x>") is None
        assert await count(runtime, Message) == 1

    async def test_a_broken_mail_in_a_batch_is_quarantined_and_the_rest_imported(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user)
        good = batch("q", 6)
        dovecot.append(imap_user, "INBOX", [*good[:3], BROKEN, *good[3:]])
        assert await MailboxSync(runtime, inbox, owner="test").once() == 6
        assert await count(runtime, Message) == 6
        assert [item.source for item in await quarantined(runtime)] == ["imap"]
        row = await mailbox_row(runtime, inbox)
        assert row.last_uid == 7 and row.imported == 7

    async def test_a_batch_fetched_again_is_not_imported_twice(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user)
        dovecot.append(imap_user, "INBOX", [*batch("again", 4), BROKEN])
        sync = MailboxSync(runtime, inbox, owner="test")
        assert await sync.once() == 4
        # As if the step of last_uid were lost: the same UIDs come in again.
        async with runtime.db.session() as session:
            await session.execute(update(Mailbox).values(last_uid=0))
            await session.commit()
        assert await sync.once() == 0
        assert await count(runtime, Message) == 4
        assert len(await quarantined(runtime)) == 1
        row = await mailbox_row(runtime, inbox)
        assert row.last_uid == 5 and row.imported == 5

    async def test_delete_after_import_removes_mail_only_after_commit(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user, delete_after_import=True)
        dovecot.append(imap_user, "INBOX", batch("d", 4))
        assert await MailboxSync(runtime, inbox, owner="test").once() == 4
        assert await count(runtime, Message) == 4
        client = dovecot.imap(imap_user)
        try:
            assert client.select("INBOX")[1] == [b"0"]
        finally:
            client.logout()


class CuttingProxy:
    """Forwards IMAP, and cuts the first connection after `cut_after` bytes from the server."""

    def __init__(self, target: int, cut_after: int) -> None:
        self.target = target
        self.cut_after: int | None = cut_after
        self.cuts = 0
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        limit, self.cut_after = self.cut_after, None

        async def pipe(src, dst, budget):  # type: ignore[no-untyped-def]
            seen = 0
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    seen += len(data)
                    if budget is not None and seen > budget:
                        self.cuts += 1
                        break
                    dst.write(data)
                    await dst.drain()
            for w in (writer, up_writer):
                w.close()

        await asyncio.gather(pipe(reader, up_writer, None), pipe(up_reader, writer, limit))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


class TestOutages:
    async def test_connection_dropped_mid_fetch_resumes_without_loss_or_duplicate(
        self, cast, runtime, dovecot, imap_user
    ):
        dovecot.append(imap_user, "INBOX", batch("cut", 300, size=2000))
        proxy = CuttingProxy(dovecot.port, cut_after=300_000)
        await proxy.start()
        try:
            inbox = await imap_inbox(runtime, dovecot, imap_user, port=proxy.port)
            sync = MailboxSync(runtime, inbox, owner="test")
            with pytest.raises(Exception):  # noqa: B017  (whatever the client raises on a cut)
                await sync.once()
            assert proxy.cuts == 1
            partial = await count(runtime, Message)
            assert 0 < partial < 300  # the batches before the cut are committed
            assert (await mailbox_row(runtime, inbox)).last_uid == partial
            assert await sync.once() == 300 - partial
        finally:
            await proxy.stop()
        assert await count(runtime, Message) == 300

    async def test_only_the_lease_holder_polls(self, cast, runtime, dovecot, imap_user):
        inbox = await imap_inbox(runtime, dovecot, imap_user)
        dovecot.append(imap_user, "INBOX", batch("l", 3))
        first = MailboxSync(runtime, inbox, owner="process-a")
        second = MailboxSync(runtime, inbox, owner="process-b")
        assert await first.acquire()
        assert not await second.acquire()
        assert await second.once() == 0
        assert await first.once() == 3
        await first.release()
        dovecot.append(imap_user, "INBOX", batch("m", 1))
        assert await second.once() == 1
        assert await count(runtime, Message) == 4

    async def test_a_mailbox_that_keeps_failing_raises_an_alert_and_shows_in_metrics(
        self, cast, runtime, dovecot, imap_user, client
    ):
        runtime.settings.imap_refresh_seconds = 0.05
        inbox = await imap_inbox(runtime, dovecot, imap_user, port=free_port(), poll_seconds=0.05)
        poller = ImapPoller(runtime, name="alerting")
        await poller.start()
        try:
            for _ in range(1200):  # up to 60 s under load
                if await events(runtime, "email.mailbox_failing"):
                    break
                await asyncio.sleep(0.05)
        finally:
            await poller.stop()
        alerts = await events(runtime, "email.mailbox_failing")
        assert len(alerts) == 1 and alerts[0].inbox_id == inbox
        metrics = (await client.get("/metrics")).text
        assert f'frontdesk_email_mailbox_failing{{inbox_id="{inbox}",folder="INBOX"}} 1' in metrics
        row = await mailbox_row(runtime, inbox)
        assert row.failures >= 3 and "Error" in (row.last_error or "")


class TestPoller:
    @pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
    async def test_new_mail_arrives_while_the_poller_runs(
        self, cast, runtime, dovecot, imap_user, idle
    ):
        runtime.settings.imap_refresh_seconds = 0.05
        # With IDLE the poll interval is long: only the server's push can bring the mail in.
        inbox = await imap_inbox(runtime, dovecot, imap_user, idle=idle,
                                 poll_seconds=20 if idle else 0.1)  # fmt: skip
        poller = ImapPoller(runtime, name="poller")
        await poller.start()
        try:
            await asyncio.sleep(0.5)
            dovecot.append(imap_user, "INBOX", batch("p", 2))
            for _ in range(1200):  # up to 60 s under load
                if await count(runtime, Message) == 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            await poller.stop()
        assert await count(runtime, Message) == 2
        assert (await mailbox_row(runtime, inbox)).lease_owner is None  # released on stop


class TestSecurity:
    """STARTTLS and implicit TLS against Dovecot with a self-signed certificate: verified
    against the system's trust store (here pointed at that certificate), or not at all only
    when the inbox says `verify_tls: false`."""

    @pytest.fixture
    def trusted(self, tls_files, monkeypatch):
        # OpenSSL's default trust store, as an operator would extend it for a private CA.
        monkeypatch.setenv("SSL_CERT_FILE", tls_files[0])

    async def test_starttls_upgrades_before_logging_in(
        self, cast, runtime, dovecot, imap_user, trusted
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user, security="starttls")
        dovecot.append(imap_user, "INBOX", batch("st", 3))
        assert await MailboxSync(runtime, inbox, owner="test").once() == 3
        assert await count(runtime, Message) == 3
        log = (dovecot.root / "dovecot.log").read_text().splitlines()
        logins = [line for line in log if "Login:" in line and f"user=<{imap_user}>" in line]
        assert any("TLS" in line for line in logins)  # ours (the test helper logs in plain)

    async def test_implicit_tls(self, cast, runtime, dovecot, imap_user, trusted):
        inbox = await imap_inbox(runtime, dovecot, imap_user, port=dovecot.tls_port, security="tls")
        dovecot.append(imap_user, "INBOX", batch("tl", 2))
        assert await MailboxSync(runtime, inbox, owner="test").once() == 2

    async def test_an_untrusted_certificate_is_refused_by_default(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user, security="starttls")
        dovecot.append(imap_user, "INBOX", batch("un", 1))
        with pytest.raises(ssl.SSLCertVerificationError):
            await MailboxSync(runtime, inbox, owner="test").once()
        assert await count(runtime, Message) == 0

    async def test_verification_can_be_turned_off_per_inbox(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user, security="starttls", verify_tls=False)
        dovecot.append(imap_user, "INBOX", batch("nv", 1))
        assert await MailboxSync(runtime, inbox, owner="test").once() == 1

    async def test_a_server_without_starttls_gets_no_password(self, cast, runtime, trusted):
        with running_dovecot(users=["plain"]) as plain:  # no certificate: no STARTTLS
            inbox = await imap_inbox(runtime, plain, "plain", security="starttls")
            with pytest.raises(ImapError, match="does not offer STARTTLS"):
                await MailboxSync(runtime, inbox, owner="test").once()
            assert "Login" not in (plain.root / "dovecot.log").read_text()


class TestInternalHosts:
    """The webhook SSRF guard covers the mailbox's server: refused when the inbox is saved,
    and again when connecting (the address may have changed since: DNS rebinding), unless
    private addresses are allowed (tests, demo)."""

    async def test_a_private_host_is_refused_when_saved(self, client, cast, runtime):
        runtime.settings.allow_private_webhooks = False
        response = await client.post(
            "/api/v1/inboxes",
            json={
                "channel": "email",
                "name": "Probe",
                "address": "probe@frontdesk.test",
                "imap": {"host": "127.0.0.1", "port": 22, "username": "x", "password": "y"},
            },
            headers=cast.ada.headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "forbidden_url"

    async def test_a_private_host_is_refused_at_connect_time(
        self, cast, runtime, dovecot, imap_user
    ):
        inbox = await imap_inbox(runtime, dovecot, imap_user)  # saved while allowed
        dovecot.append(imap_user, "INBOX", batch("ss", 1))  # the helper logs in itself
        before = (dovecot.root / "dovecot.log").read_text().count("imap-login:")
        runtime.settings.allow_private_webhooks = False
        with pytest.raises(Invalid, match="non-public address"):
            await MailboxSync(runtime, inbox, owner="test").once()
        assert await count(runtime, Message) == 0
        # Never connected at all.
        assert (dovecot.root / "dovecot.log").read_text().count("imap-login:") == before
