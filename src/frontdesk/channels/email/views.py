"""What agents and admins see of e-mail beyond the message: headers, SPF/DKIM/DMARC verdicts,
flags, the full original (text, HTML with remote images on request, raw .eml), the quarantine,
the hard-bounced addresses and the state of every IMAP mailbox."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.metrics import DB_COLLECTORS
from frontdesk.channels.email import repository, service
from frontdesk.channels.email.parsing import BrokenMail, parse_mail
from frontdesk.channels.email.schemas import (
    AuthVerdicts,
    EmailMessageRead,
    MailboxRead,
    QuarantineRead,
    SuppressionRead,
)
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.deps import AdminAgent, CurrentAgent, RuntimeDep, SessionDep
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound
from frontdesk.kit.openapi import EML
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id

router = APIRouter(tags=["email"])


async def _email_message(session: AsyncSession, message_id: int, agent: Any) -> Any:
    message = await conversations_repository.get_message(session, message_id)
    if message is None or message.channel != "email":
        raise NotFound("message not found")
    await conversations.get_or_raise(session, message.conversation_id, agent=agent)
    return message


@router.get("/email/messages/{message_id}", response_model=EmailMessageRead)
async def read_email(
    message_id: Id,
    session: SessionDep,
    agent: CurrentAgent,
    runtime: RuntimeDep,
    allow_remote_images: bool = False,
) -> EmailMessageRead:
    """The mail behind a message: verdicts, flags, full text and (on request) remote images."""
    message = await _email_message(session, message_id, agent)
    info: dict[str, Any] = message.meta.get("email", {})
    text_full, html = message.text, message.html
    blocked = int(info.get("remote_images_blocked") or 0)
    if info.get("raw") and message.direction == "inbound":
        try:
            mail = parse_mail(
                runtime.blobs.get(info["raw"]),
                max_attachment_bytes=runtime.settings.max_attachment_bytes,
                allow_remote_images=allow_remote_images,
            )
            text_full, html, blocked = mail.text_full, mail.html, mail.remote_images
        except (BrokenMail, OSError, ValueError):
            pass
    attachments = await conversations_repository.attachments_of(session, [message.id])
    for cid, index in (info.get("cids") or {}).items():
        if html and index < len(attachments):
            html = html.replace(f"cid:{cid}", f"/api/v1/attachments/{attachments[index].id}")
    return EmailMessageRead(
        message_id=message.id,
        rfc_message_id=info.get("message_id") or message.meta.get("remote_id"),
        subject=info.get("subject"),
        from_address=info.get("from"),
        to=info.get("to") or [],
        cc=info.get("cc") or [],
        auth=AuthVerdicts.model_validate(info.get("auth") or {"trusted": False}),
        flags=info.get("flags") or [],
        possible_spoof="possible_spoof" in message.meta,
        text=message.text,
        text_full=text_full,
        html=html,
        remote_images_blocked=blocked,
        notes=info.get("notes") or [],
    )


@router.get("/email/messages/{message_id}/raw", response_class=Response, responses=EML)
async def raw_email(
    message_id: Id, session: SessionDep, agent: CurrentAgent, runtime: RuntimeDep
) -> Response:
    """The original mail, byte for byte (message/rfc822, as a download)."""
    message = await _email_message(session, message_id, agent)
    key = message.meta.get("email", {}).get("raw")
    if not key:
        raise NotFound("no original is stored for this message")
    return _eml(runtime.blobs.get(key), f"message-{message.id}.eml")


@router.get("/email/quarantine", response_model=Page[QuarantineRead])
async def list_quarantine(
    session: SessionDep,
    admin: AdminAgent,
    inbox_id: Id | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[QuarantineRead]:
    size = clamp_limit(limit)
    rows = await repository.list_quarantined(
        session, inbox_id=inbox_id, before=decode_cursor(cursor), limit=size
    )
    items = [
        QuarantineRead(
            id=row.id,
            inbox_id=row.inbox_id,
            source=row.source,
            reason=row.reason,
            size=row.size,
            created_at=row.created_at,
            url=f"/api/v1/email/quarantine/{row.id}/raw",
        )
        for row in rows
    ]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == size else None)


@router.get("/email/quarantine/{quarantine_id}/raw", response_class=Response, responses=EML)
async def quarantined_raw(
    quarantine_id: Id, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> Response:
    item = await repository.get_quarantined(session, quarantine_id)
    if item is None:
        raise NotFound("quarantined mail not found")
    return _eml(runtime.blobs.get(item.blob_key), f"quarantine-{item.id}.eml")


@router.get("/email/suppressions", response_model=list[SuppressionRead])
async def list_suppressions(session: SessionDep, admin: AdminAgent) -> list[SuppressionRead]:
    """Addresses that hard-bounced: mail to them fails instead of being sent."""
    return [
        SuppressionRead.model_validate(row, from_attributes=True)
        for row in await repository.list_suppressions(session)
    ]


@router.delete("/email/suppressions/{address}", status_code=204)
async def lift_suppression(address: str, session: SessionDep, admin: AdminAgent) -> None:
    """Send to the address again (after the recipient fixed their mailbox)."""
    if not await service.lift_suppression(session, address, by=admin.id):
        raise NotFound("address is not suppressed")
    await uow.commit(session)


@router.get("/email/mailboxes", response_model=list[MailboxRead])
async def list_mailboxes(session: SessionDep, admin: AdminAgent) -> list[MailboxRead]:
    return [
        MailboxRead.model_validate(row, from_attributes=True)
        for row in await repository.list_mailboxes(session)
    ]


def _eml(data: bytes, filename: str) -> Response:
    # Served as a download, never rendered: the bytes are whatever the sender wrote.
    return Response(
        data,
        media_type="message/rfc822",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "x-content-type-options": "nosniff",
        },
    )


async def _mailbox_metrics(session: AsyncSession) -> list[str]:
    mailboxes = await repository.list_mailboxes(session)
    lines = [
        "# HELP frontdesk_email_mailbox_failures Consecutive failed syncs of an IMAP mailbox",
        "# TYPE frontdesk_email_mailbox_failures gauge",
    ]
    for row in mailboxes:
        labels = f'inbox_id="{row.inbox_id}",folder="{_label(row.folder)}"'
        lines.append(f"frontdesk_email_mailbox_failures{{{labels}}} {row.failures}")
    lines += [
        "# HELP frontdesk_email_mailbox_failing 1 while a mailbox keeps failing (alert raised)",
        "# TYPE frontdesk_email_mailbox_failing gauge",
    ]
    for row in mailboxes:
        labels = f'inbox_id="{row.inbox_id}",folder="{_label(row.folder)}"'
        lines.append(f"frontdesk_email_mailbox_failing{{{labels}}} {int(row.alerting)}")
    lines += [
        "# HELP frontdesk_email_quarantined Mails in the quarantine",
        "# TYPE frontdesk_email_quarantined gauge",
        f"frontdesk_email_quarantined {await repository.count_quarantined(session)}",
    ]
    return lines


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


DB_COLLECTORS.append(_mailbox_metrics)
