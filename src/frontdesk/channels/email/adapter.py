"""The e-mail channel: RFC 5322 bytes in (SMTP listener or IMAP), SMTP relay out."""

from __future__ import annotations

import ssl
import unicodedata
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.email import repository, threading
from frontdesk.channels.email.parsing import BrokenMail, ParsedMail, html_to_text, parse_mail
from frontdesk.channels.email.schemas import EmailSettings, SmtpServer, settings_of
from frontdesk.config import Settings
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    ConnectionCheck,
    Inbound,
    Outbound,
    PermanentSendError,
    SendResult,
)
from frontdesk.kit.errors import Invalid, invalid_input
from frontdesk.kit.security import check_outbound_host, open_connection, public_address
from frontdesk.kit.text import normalize_email

_REPLY_PREFIXES = ("re:", "aw:", "sv:", "رد:", "پاسخ:")


class EmailChannel:
    channel = "email"
    handle_kind = "email"
    capabilities = Capabilities(media=True)

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = EmailSettings.model_validate(settings)
        except ValidationError as exc:
            raise invalid_input(exc.errors()) from exc
        parsed.address = normalize_email(parsed.address)
        if "+" in parsed.address.split("@")[0]:
            raise Invalid("the inbox address cannot contain '+'", code="invalid_address")
        # The webhook guard: an admin must not reach the internal network through a relay
        # or a mailbox (checked again at each connection, see public_address).
        for server in (parsed.imap, parsed.smtp):
            if server is not None:
                check_outbound_host(
                    server.host, server.port, allow_private=app.allow_private_webhooks
                )
        return parsed.model_dump()

    async def check_connection(self, inbox: Inbox, app: Settings) -> ConnectionCheck:
        # Imported here: the check reaches for the IMAP client, which the adapter never needs.
        from frontdesk.channels.email.check import check_servers

        return await check_servers(inbox, app)

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        # Mail comes in only through the SMTP listener (behind the MX) and IMAP, where the
        # sender limit, the seen-index and the quarantine apply and Authentication-Results is
        # trusted only from the configured host. The HTTP inbound route has none of that, so
        # it refuses every request for an e-mail inbox (docs/email.md).
        return False

    async def refusal(self, session: AsyncSession, inbox: Inbox, address: str) -> str | None:
        """Why no mail may go to `address` now (it hard-bounced), or None. The delivery job
        asks before sending: a suppressed address fails the message instead of bouncing again."""
        try:
            normalised = normalize_email(address)
        except ValueError:  # a raw identity kept from a mail we could not read an address in
            return f"not sent: {address!r} is not an e-mail address mail can be sent to"
        found = await repository.get_suppression(session, normalised)
        if found is None:
            return None
        return (
            f"not sent: {found.address} is suppressed after a hard bounce "
            f"({found.status}: {found.reason})"
        )

    def outbound_per_minute(self, inbox: Inbox) -> int:
        return settings_of(inbox.settings).outbound_per_minute

    def parse(
        self, inbox: Inbox, raw: bytes, app: Settings, *, envelope_sender: str | None = None
    ) -> ParsedMail:
        """Raises parsing.BrokenMail for mail that belongs in the quarantine."""
        trusted = settings_of(inbox.settings).trusted_authserv_id
        return self.parse_for(
            raw, app, trusted_authserv_id=trusted, envelope_sender=envelope_sender
        )

    def parse_for(
        self,
        raw: bytes,
        app: Settings,
        *,
        trusted_authserv_id: str | None,
        envelope_sender: str | None = None,
    ) -> ParsedMail:
        """`parse` without the inbox row: only its trusted_authserv_id changes the result."""
        return parse_mail(
            raw,
            max_attachment_bytes=app.max_attachment_bytes,
            trusted_authserv_id=trusted_authserv_id,
            envelope_sender=envelope_sender,
        )

    def to_inbound(
        self,
        inbox: Inbox,
        mail: ParsedMail,
        app: Settings,
        *,
        raw_key: str | None,
        recipients: list[str],
    ) -> Inbound:
        config = settings_of(inbox.settings)
        hints, references = threading.hints(
            mail, key=app.secret_key, inbox_id=inbox.id, recipients=recipients
        )
        return Inbound(
            inbox_id=inbox.id,
            external_id=mail.message_id,
            address=mail.from_address,
            name=mail.from_name,
            text=mail.text,
            html=mail.html,
            html_sanitized=True,  # parsing.sanitize_mail_html: our allow-lists, fewer images
            # A mail that answers nothing we know starts its own conversation: e-mail threads
            # by references, never by "the sender's latest open conversation" or the subject.
            thread=f"email:{mail.message_key[:40]}",
            subject=mail.subject[:500] or None,
            attachments=mail.attachments,
            sent_at=mail.date,
            meta={
                "automated": mail.automated or config.import_only,
                "email": {
                    "message_id": mail.message_id,
                    "subject": mail.subject[:500],
                    "from": mail.from_address,
                    "to": mail.to[:20],
                    "cc": mail.cc[:20],
                    "flags": mail.flags + (["imported"] if config.import_only else []),
                    "auth": mail.auth,
                    "cids": mail.cids,
                    "raw": raw_key,
                    "quoted": mail.text != mail.text_full.strip(),
                    "remote_images_blocked": mail.remote_images,
                    "notes": mail.notes,
                },
            },
            conversation_hints=hints,
            references=references,
            # A From that fails DMARC at our own MX is someone else writing under the
            # customer's address: it joins none of the customer's conversations.
            spoofed=mail.sender_forged,
            raw_address_ok=True,  # the sender's MTA cannot correct the From we could not read
        )

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        try:
            mail = self.parse(inbox, body, app)
        except BrokenMail as exc:
            # Over HTTP the sender hears why at once (a permanent 422, never a 500); the
            # listener and IMAP quarantine such mail instead.
            raise Invalid(f"not a mail that can be taken in: {exc}", code="broken_mail") from exc
        return self.to_inbound(inbox, mail, app, raw_key=None, recipients=[])

    def build(self, inbox: Inbox, outbound: Outbound, app: Settings) -> EmailMessage:
        """The outbound mail: multipart/alternative (text + HTML), attachments, threading."""
        config = settings_of(inbox.settings)
        domain = threading.domain_of(config.address)
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = Address(display_name=_one_line(inbox.name), addr_spec=config.address)
        msg["To"] = Address(
            display_name=_one_line(outbound.to_name or ""), addr_spec=outbound.to_address
        )
        if config.reply_token:
            token = threading.reply_address(
                key=app.secret_key,
                inbox_id=inbox.id,
                address=config.address,
                conversation_id=outbound.conversation_id,
            )
            msg["Reply-To"] = Address(display_name=_one_line(inbox.name), addr_spec=token)
        msg["Subject"] = _reply_subject(_one_line(outbound.subject or ""), _one_line(inbox.name))
        msg["Date"] = format_datetime(utcnow())
        msg["Message-ID"] = threading.message_id_for(
            key=app.secret_key,
            inbox_id=inbox.id,
            conversation_id=outbound.conversation_id,
            message_id=outbound.message_id,
            domain=domain,
        )
        if outbound.in_reply_to:
            msg["In-Reply-To"] = outbound.in_reply_to
        references = threading.references_header(outbound.references)
        if references:
            msg["References"] = " ".join(references)
        if outbound.author_kind != "agent":
            msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer
        msg.set_content(outbound.text or html_to_text(outbound.html or ""))
        if outbound.html:
            msg.add_alternative(outbound.html, subtype="html")
        for item in outbound.attachments:
            maintype, _, subtype = item.content_type.partition("/")
            msg.add_attachment(
                item.data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=item.filename,
            )
        return msg

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        config = settings_of(inbox.settings)
        if config.smtp is None:
            raise PermanentSendError("inbox has no smtp relay configured", code="not_configured")
        if outbound.author_kind != "agent" and (config.import_only or outbound.answers_automated):
            # No mail loops and no answers to a backlog: only a person answers these.
            raise PermanentSendError(
                "automatic replies to automated or imported mail are off", code="automatic_off"
            )
        try:
            msg = self.build(inbox, outbound, app)
        except ValueError as exc:  # e.g. an address the headers cannot hold: the same each try
            raise PermanentSendError(f"the mail cannot be written: {exc}") from exc
        try:
            address = await public_address(
                config.smtp.host, config.smtp.port, allow_private=app.allow_private_webhooks
            )
        except Invalid as exc:
            if exc.code == "forbidden_url":
                raise PermanentSendError(f"relay refused by the SSRF guard: {exc}") from exc
            raise  # a name that does not resolve now may resolve later
        sock = await open_connection(address, config.smtp.port, timeout=config.smtp.timeout_seconds)
        try:
            await aiosmtplib.send(
                msg,
                sender=config.address,
                recipients=[outbound.to_address],
                sock=sock,
                **_connection(config.smtp),
            )
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentSendError(f"relay refused: {exc.code} {exc.message}") from exc
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentSendError(f"relay refused the recipient: {exc.recipients}") from exc
        return SendResult(status="sent", external_id=str(msg["Message-ID"]))


def _one_line(value: str) -> str:
    """Header text on one line: line breaks (stored before inputs refused them, or from
    another channel) fold to spaces, other control characters go."""
    return " ".join("".join(c if unicodedata.category(c) != "Cc" else " " for c in value).split())


def _reply_subject(subject: str | None, fallback: str) -> str:
    text = (subject or "").strip()
    if not text:
        return fallback
    return text if text.lower().startswith(_REPLY_PREFIXES) else f"Re: {text}"


def _connection(server: SmtpServer) -> dict[str, Any]:
    context = ssl.create_default_context()
    if not server.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # The socket is already connected to the checked address; the name is for TLS (SNI and
    # certificate verification) and the greeting.
    return {
        "hostname": server.host,
        "username": server.username,
        "password": server.password,
        "use_tls": server.security == "tls",
        "start_tls": server.security == "starttls",
        "tls_context": context if server.security != "none" else None,
        "timeout": server.timeout_seconds,
    }


email_channel = EmailChannel()
