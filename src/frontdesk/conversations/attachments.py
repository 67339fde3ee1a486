"""Agents' files: uploaded to a conversation first, then taken by one reply or note.

Invariant: an attachment belongs to at most one of a message or a note; while it has neither
it is a pending upload that only its uploader can see or use, and only in its conversation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.config import Settings
from frontdesk.conversations import repository, service
from frontdesk.conversations.models import Attachment, Conversation
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.port import check_file, upload_limits
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import Invalid, NotFound

MAX_PER_MESSAGE = 10
# An upload no reply or note took by then is dropped (the desk sends files with the form, so
# only API clients leave uploads waiting, and a day is ample for them).
PENDING_UPLOAD_LIFETIME = timedelta(hours=24)


async def upload(
    session: AsyncSession,
    conversation: Conversation,
    *,
    agent: Agent,
    filename: str,
    content_type: str,
    data: bytes,
    blobs: BlobStore,
    app: Settings,
) -> Attachment:
    """Store an agent's file for a later reply or note, within the inbox's upload limits."""
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    assert inbox is not None
    types, max_bytes = upload_limits(inbox, app)
    file = check_file(
        types=types, max_bytes=max_bytes, filename=filename, content_type=content_type, data=data
    )
    # Durable before the row that names it is committed.
    [key] = await blobs.put_many_async([file.data])
    row = Attachment(
        conversation_id=conversation.id,
        uploaded_by_id=agent.id,
        filename=file.filename,
        content_type=file.content_type,
        size=len(file.data),
        blob_key=key,
    )
    session.add(row)
    await session.flush()
    return row


async def take(
    session: AsyncSession, conversation: Conversation, *, agent: Agent, ids: Sequence[int]
) -> list[Attachment]:
    """The agent's own pending uploads of this conversation, ready for one reply or note."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_PER_MESSAGE:
        raise Invalid(f"at most {MAX_PER_MESSAGE} files per message", code="too_many_files")
    rows = list(await repository.attachments_by_id(session, wanted))
    usable = [
        row
        for row in rows
        if row.message_id is None
        and row.note_id is None
        and row.conversation_id == conversation.id
        and row.uploaded_by_id == agent.id
    ]
    if len(usable) != len(wanted):
        raise Invalid("unknown or already used upload", code="invalid_upload")
    return usable


async def conversation_of(session: AsyncSession, attachment: Attachment, *, agent: Agent) -> int:
    """The conversation whose visibility decides who may read this file; NotFound for a
    pending upload of another agent."""
    if attachment.message_id is not None:
        message = await repository.get_message(session, attachment.message_id)
        if message is not None:
            return message.conversation_id
    elif attachment.note_id is not None:
        note = await repository.get_note(session, attachment.note_id)
        if note is not None:
            return note.conversation_id
    elif attachment.uploaded_by_id == agent.id and attachment.conversation_id is not None:
        return attachment.conversation_id
    raise NotFound("attachment not found")


async def get_or_raise(session: AsyncSession, attachment_id: int, *, agent: Agent) -> Attachment:
    """The file if the agent may see its conversation (or it is their own upload), else
    NotFound."""
    attachment = await repository.get_attachment(session, attachment_id)
    if attachment is None:
        raise NotFound("attachment not found")
    conversation_id = await conversation_of(session, attachment, agent=agent)
    await service.get_or_raise(session, conversation_id, agent=agent)
    return attachment


async def drop_stale_uploads(session: AsyncSession) -> int:
    """Forget uploads that waited longer than PENDING_UPLOAD_LIFETIME. Their blobs are left
    to the blob collector (blobgc): content-addressed, they may be shared with other rows."""
    return await repository.delete_pending_uploads(
        session, before=utcnow() - PENDING_UPLOAD_LIFETIME
    )
