"""IMAP in (aioimaplib): per mailbox, UIDVALIDITY and the last UID taken in are stored with
the mail they belong to, so a sync resumes exactly where the last commit left it. A database
lease makes one process the poller of a mailbox; IDLE when offered, polling otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import aioimaplib
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.metrics import MESSAGES
from frontdesk.channels.email import repository, service
from frontdesk.channels.email.models import Mailbox
from frontdesk.channels.email.schemas import ImapServer, settings_of
from frontdesk.inboxes.models import Inbox
from frontdesk.kit import uow
from frontdesk.kit.security import public_address
from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)
# Mails fetched and committed together: one transaction, one step of last_uid.
BATCH = 100
_UID = re.compile(rb"UID (\d+)")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")


class ImapError(Exception):
    pass


class LeaseLost(Exception):
    """Another process holds the mailbox now; this one stops touching it."""


class _PinnedIMAP4(aioimaplib.IMAP4):
    """aioimaplib's client connecting to the address the SSRF guard checked (never the name
    again), while TLS still verifies the certificate for the host name the inbox names."""

    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        self.address = address
        super().__init__(host, port, timeout=timeout, ssl_context=tls)

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Any = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        running = loop or asyncio.get_running_loop()
        self.protocol = aioimaplib.IMAP4ClientProtocol(running, conn_lost_cb)
        self._client_task = running.create_task(
            running.create_connection(
                lambda: self.protocol,
                self.address,
                port,
                ssl=ssl_context,
                server_hostname=host if ssl_context is not None else None,
            )
        )


async def connect(server: ImapServer, *, allow_private: bool) -> aioimaplib.IMAP4:
    """Log in to the mailbox's server; a host that resolves to a private address is refused
    here too (unless allowed), as when the inbox was saved."""
    address = await public_address(server.host, server.port, allow_private=allow_private)
    context = _tls_context(server) if server.security != "none" else None
    client = _PinnedIMAP4(
        server.host,
        server.port,
        address=address,
        timeout=server.timeout_seconds,
        tls=context if server.security == "tls" else None,
    )
    await client.wait_hello_from_server()
    if context is not None and server.security == "starttls":
        await asyncio.wait_for(_starttls(client, server.host, context), server.timeout_seconds)
    response = await client.login(server.username or "", server.password or "")
    if response.result != "OK":
        raise ImapError(f"login refused: {_last(response.lines)}")
    return client


def _tls_context(server: ImapServer) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not server.verify_tls:  # the inbox's explicit opt-out, for self-signed servers
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def _starttls(client: aioimaplib.IMAP4, host: str, context: ssl.SSLContext) -> None:
    """RFC 3501 §6.2.1 / RFC 2595: upgrade the plain connection before anything secret is
    sent. aioimaplib knows the command but not the upgrade, so the transport is swapped
    here. Never falls back to plain text: a server without STARTTLS is an error."""
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise ImapError("the server does not offer STARTTLS")
    response = await protocol.execute(
        aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    )
    if response.result != "OK":
        raise ImapError(f"STARTTLS refused: {_last(response.lines)}")
    if protocol.incomplete_line:
        # Bytes that arrived after the OK, before the handshake, were not protected: a
        # man in the middle may have injected them (CVE-2011-0411 class). Refuse.
        raise ImapError("data injected before the TLS handshake")
    loop = asyncio.get_running_loop()
    transport = await loop.start_tls(protocol.transport, protocol, context, server_hostname=host)
    if transport is None:
        raise ImapError("the TLS handshake did not complete")
    protocol.transport = transport
    # Capabilities announced before TLS may have been forged: ask again (RFC 3501 §6.2.1).
    await protocol.capability()


def _last(lines: list[Any]) -> str:
    return bytes(lines[-1]).decode("utf-8", "replace") if lines else ""


def quote_folder(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetched(lines: Iterable[Any]) -> dict[int, bytes]:
    """UID → raw bytes from a UID FETCH (BODY.PEEK[]) response (UID before or after the body)."""
    result: dict[int, bytes] = {}
    uid: int | None = None
    pending: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            pending = bytes(line)
        elif found := _UID.search(line):
            uid = int(found[1])
        if pending is not None and uid is not None:
            result[uid] = pending
            uid = pending = None
    return result


class MailboxSync:
    """One inbox's folder, synced by the process that holds its lease."""

    def __init__(self, runtime: Runtime, inbox_id: int, *, owner: str) -> None:
        self.runtime = runtime
        self.inbox_id = inbox_id
        self.owner = owner
        self.lease_seconds = runtime.settings.imap_lease_seconds

    async def _load(self) -> tuple[Inbox, ImapServer, Mailbox]:
        async with self.runtime.db.session() as session:
            inbox = await session.get(Inbox, self.inbox_id)
            if inbox is None or not inbox.active or not inbox.settings.get("imap"):
                raise LeaseLost("inbox gone, inactive or without imap")
            server = settings_of(inbox.settings).imap
            assert server is not None
            mailbox = await service.mailbox_for(session, inbox, server.folder)
            await uow.commit(session)
        return inbox, server, mailbox

    async def acquire(self) -> bool:
        _, _, mailbox = await self._load()
        async with self.runtime.db.session() as session:
            got = await repository.take_lease(
                session, mailbox.id, owner=self.owner, seconds=self.lease_seconds
            )
            await uow.commit(session)
        return got

    async def renew(self) -> None:
        if not await self.acquire():
            raise LeaseLost(f"lease on inbox {self.inbox_id} taken by another process")

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            _, _, mailbox = await self._load()
            async with self.runtime.db.session() as session:
                await repository.release_lease(session, mailbox.id, owner=self.owner)
                await uow.commit(session)

    async def sync(self, client: aioimaplib.IMAP4) -> int:
        """Take in every mail past the stored UID; returns how many were new."""
        inbox, server, mailbox = await self._load()
        response = await client.select(quote_folder(server.folder))
        if response.result != "OK":
            raise ImapError(f"SELECT {server.folder}: {_last(response.lines)}")
        uidvalidity = _uidvalidity(response.lines)
        last_uid = await self._check_uidvalidity(mailbox.id, uidvalidity)
        response = await client.uid_search(f"UID {last_uid + 1}:*")
        if response.result != "OK":
            raise ImapError(f"UID SEARCH: {_last(response.lines)}")
        words = b" ".join(bytes(line) for line in response.lines[:-1]).split()
        uids = sorted(int(w) for w in words if w.isdigit() and int(w) > last_uid)
        stored = 0
        for start in range(0, len(uids), BATCH):
            chunk = uids[start : start + BATCH]
            response = await client.uid("fetch", f"{chunk[0]}:{chunk[-1]}", "(UID BODY.PEEK[])")
            if response.result != "OK":
                raise ImapError(f"UID FETCH: {_last(response.lines)}")
            mails = fetched(response.lines)
            stored += await self._store(inbox.id, mailbox.id, chunk, mails)
            if server.delete_after_import:
                await self._delete(client, chunk)
            await self.renew()
        await self._succeeded(mailbox.id)
        return stored

    async def _check_uidvalidity(self, mailbox_id: int, uidvalidity: int) -> int:
        async with self.runtime.db.session() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            if mailbox.uidvalidity != uidvalidity:
                service.reset_uidvalidity(session, mailbox, uidvalidity)
            last_uid = mailbox.last_uid
            await uow.commit(session)
        return last_uid

    async def _store(
        self, inbox_id: int, mailbox_id: int, chunk: list[int], mails: dict[int, bytes]
    ) -> int:
        # Mails and the new last_uid commit together: a crash before the commit leaves both
        # where they were, so the next sync fetches the same UIDs again.
        rt = self.runtime
        batch = [service.IncomingMail(inbox_id, mails[uid]) for uid in chunk if uid in mails]
        async with rt.db.session() as session:
            try:
                outcomes = await self._take_in(session, batch)
                await self._advance(session, mailbox_id, chunk[-1], outcomes)
                await uow.commit(session)
            except LeaseLost:
                raise
            except Exception as exc:
                await uow.rollback(session)
                if uow.is_temporary(exc):
                    raise  # the sync fails and starts again from the same UID later
                # A concurrent copy (same Message-ID over SMTP, or a lease that ran out under a
                # slow batch), or a mail that cannot be stored: settle the batch in halves, so
                # the good ones are stored, the bad one quarantined, and the UID moves past both.
                outcomes = await self._settle_halves(session, batch)
                await self._advance(session, mailbox_id, chunk[-1], outcomes)
                await uow.commit(session)
        for outcome in outcomes:
            MESSAGES.labels(direction="inbound", outcome=outcome.status).inc()
        return sum(1 for outcome in outcomes if outcome.status == "stored")

    async def _settle_halves(
        self, session: AsyncSession, batch: list[service.IncomingMail]
    ) -> list[service.Taken]:
        """Each half in its own transaction, halved again while it fails: one bad mail in 100
        costs about 14 transactions instead of 100."""
        if len(batch) == 1:
            return [await self._settle(session, batch[0])]
        try:
            return await uow.retrying(session, lambda: self._take_in(session, batch))
        except Exception as exc:
            await uow.rollback(session)
            if uow.is_temporary(exc) or isinstance(exc, LookupError):
                raise
        half = len(batch) // 2
        return [
            *await self._settle_halves(session, batch[:half]),
            *await self._settle_halves(session, batch[half:]),
        ]

    async def _settle(self, session: AsyncSession, mail: service.IncomingMail) -> service.Taken:
        """One mail in its own transaction; quarantined if it fails for good on its own."""
        rt = self.runtime
        try:
            [taken] = await uow.retrying(session, lambda: self._take_in(session, [mail]))
            return taken
        except Exception as exc:
            await uow.rollback(session)
            if uow.is_temporary(exc) or isinstance(exc, LookupError):
                raise
            error = exc
            log.warning("imap inbox %s: quarantining a mail that cannot be stored", self.inbox_id)
            return await uow.retrying(
                session,
                lambda: service.quarantine(
                    session, mail, error=error, blobs=rt.blobs, settings=rt.settings, source="imap"
                ),
            )

    async def _take_in(
        self, session: AsyncSession, batch: list[service.IncomingMail]
    ) -> list[service.Taken]:
        """The batch's outcomes; any mail refused (its inbox went away) fails the batch."""
        rt = self.runtime
        outcomes = await service.take_in_many(
            session, batch, blobs=rt.blobs, settings=rt.settings, source="imap"
        )
        taken: list[service.Taken] = []
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
            taken.append(outcome)
        return taken

    async def _advance(
        self, session: Any, mailbox_id: int, last_uid: int, outcomes: list[Any]
    ) -> None:
        imported = sum(1 for outcome in outcomes if outcome.status != "duplicate")
        if not await repository.advance(
            session, mailbox_id, owner=self.owner, last_uid=last_uid, imported=imported
        ):
            raise LeaseLost(f"lease on inbox {self.inbox_id} lost during a batch")

    async def _delete(self, client: aioimaplib.IMAP4, chunk: list[int]) -> None:
        # Only after the commit above: what is deleted on the server is already ours.
        span = f"{chunk[0]}:{chunk[-1]}"
        await client.uid("store", span, "+FLAGS.SILENT", r"(\Deleted)")
        if client.has_capability("UIDPLUS"):
            await client.uid("expunge", span)
        else:
            await client.expunge()

    async def _succeeded(self, mailbox_id: int) -> None:
        async with self.runtime.db.session() as session:
            mailbox = await session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            service.mailbox_succeeded(session, mailbox)
            await uow.commit(session)

    async def failed(self, error: str) -> int:
        _, _, mailbox = await self._load()
        async with self.runtime.db.session() as session:
            row = await session.get(Mailbox, mailbox.id)
            assert row is not None
            service.mailbox_failed(session, row, error)
            failures = row.failures
            await uow.commit(session)
        return failures

    async def once(self) -> int:
        """Take the lease, connect, sync, log out (a poll; tests and `import` use it)."""
        if not await self.acquire():
            return 0
        _, server, _ = await self._load()
        client = await connect(server, allow_private=self.runtime.settings.allow_private_webhooks)
        try:
            return await self.sync(client)
        finally:
            await logout(client)


def _uidvalidity(lines: list[Any]) -> int:
    for line in lines:
        found = _UIDVALIDITY.search(bytes(line))
        if found:
            return int(found[1])
    raise ImapError("server sent no UIDVALIDITY")


async def logout(client: aioimaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.logout(), 5)


async def _wait_for_mail(client: aioimaplib.IMAP4, seconds: float) -> None:
    """IDLE until the server announces new mail or `seconds` pass."""
    idle = await client.idle_start(timeout=seconds + 5)
    try:
        while client.has_pending_idle():
            try:
                pushed = await client.wait_server_push(timeout=seconds)
            except TimeoutError:
                break
            if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH or any(
                b"EXISTS" in bytes(line) for line in pushed
            ):
                break
    finally:
        client.idle_done()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(idle, 5)


class ImapPoller:
    """One per process: a watcher per e-mail inbox with an IMAP block. Each watcher syncs
    only while it holds the mailbox lease, so any number of processes may run one."""

    def __init__(self, runtime: Runtime, *, name: str | None = None) -> None:
        self.runtime = runtime
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:imap"
        self.watchers: dict[int, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="imap-poller")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self.watchers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for inbox_id in list(self.watchers):
            await MailboxSync(self.runtime, inbox_id, owner=self.name).release()
        self.watchers.clear()

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("listing e-mail inboxes failed")
            await asyncio.sleep(self.runtime.settings.imap_refresh_seconds)

    async def refresh(self) -> None:
        async with self.runtime.db.session() as session:
            inboxes = await repository.email_inboxes(session, with_imap=True)
            await session.commit()
        wanted = {inbox.id for inbox in inboxes}
        for inbox_id in set(self.watchers) - wanted:
            self.watchers.pop(inbox_id).cancel()
        for inbox_id in wanted - set(self.watchers):
            self.watchers[inbox_id] = asyncio.create_task(self.watch(inbox_id))

    async def watch(self, inbox_id: int) -> None:
        sync = MailboxSync(self.runtime, inbox_id, owner=self.name)
        failures = 0
        poll = 1.0
        while True:
            try:
                _, server, _ = await sync._load()
                poll = server.poll_seconds
                if not await sync.acquire():
                    await asyncio.sleep(min(server.poll_seconds, sync.lease_seconds / 2))
                    continue
                await self._session(sync, server)
                failures = 0
            except asyncio.CancelledError:
                raise
            except LeaseLost as exc:
                log.info("imap inbox %s: %s", inbox_id, exc)
                await asyncio.sleep(sync.lease_seconds / 2)
            except Exception as exc:
                failures = await self._failed(sync, exc)
                delay = min(poll * 2 ** min(failures, 10), 300.0)
                await asyncio.sleep(delay)

    async def _session(self, sync: MailboxSync, server: ImapServer) -> None:
        client = await connect(server, allow_private=self.runtime.settings.allow_private_webhooks)
        try:
            while True:
                await sync.sync(client)
                await sync.renew()
                if server.idle and client.has_capability("IDLE"):
                    await _wait_for_mail(client, min(server.poll_seconds, sync.lease_seconds / 3))
                else:
                    await asyncio.sleep(server.poll_seconds)
        finally:
            await logout(client)

    async def _failed(self, sync: MailboxSync, exc: Exception) -> int:
        error = f"{exc.__class__.__name__}: {exc}"
        log.warning("imap inbox %s failed: %s", sync.inbox_id, error)
        try:
            return await sync.failed(error)
        except Exception:
            log.exception("recording the imap failure failed")
            return 1
