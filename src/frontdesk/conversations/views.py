"""Conversations, their messages (agent replies), notes and attachments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.conversations import activity, repository, service
from frontdesk.conversations import attachments as files
from frontdesk.conversations.models import Attachment, Conversation, Message, Note
from frontdesk.conversations.schemas import (
    ActivityRead,
    AttachmentRead,
    ConversationRead,
    ConversationUpdate,
    MessageRead,
    MessageVersion,
    NoteRead,
    ReplyCreate,
    SegmentsRead,
    SlaClockRead,
    call_of,
)
from frontdesk.deps import CurrentAgent, RuntimeDep, SessionDep
from frontdesk.desk import service as desk
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import uow
from frontdesk.kit.openapi import FILE, errors
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id
from frontdesk.kit.sms import count_segments
from frontdesk.runtime import Runtime

router = APIRouter(tags=["conversations"])

# What domains above conversations add to a conversation read, by conversation id: the SLA
# domain registers its clocks here (sla/views.py), so this module never imports it.
SlaReader = Callable[[AsyncSession, list[int]], Awaitable[dict[int, list[SlaClockRead]]]]
SLA_READERS: list[SlaReader] = []


async def read_conversation(session: AsyncSession, conversation: Conversation) -> ConversationRead:
    return (await read_conversations(session, [conversation]))[0]


async def read_conversations(
    session: AsyncSession, conversations: Sequence[Conversation]
) -> list[ConversationRead]:
    ids = [conversation.id for conversation in conversations]
    tags = await repository.tag_names_by_conversation(session, ids)
    channels = await inboxes_repository.channels_of(
        session, {conversation.inbox_id for conversation in conversations}
    )
    clocks: dict[int, list[SlaClockRead]] = {}
    for reader in SLA_READERS:
        clocks.update(await reader(session, ids))
    return [
        _conversation_read(c, channels.get(c.inbox_id, ""), tags.get(c.id, []), clocks.get(c.id))
        for c in conversations
    ]


def _conversation_read(
    conversation: Conversation,
    channel: str,
    tags: list[str],
    clocks: list[SlaClockRead] | None = None,
) -> ConversationRead:
    return ConversationRead(
        id=conversation.id,
        inbox_id=conversation.inbox_id,
        customer_id=conversation.customer_id,
        channel=channel,
        status=conversation.status,
        priority=conversation.priority,
        team_id=conversation.team_id,
        assignee_id=conversation.assignee_id,
        subject=conversation.subject,
        language=conversation.language,
        thread=conversation.thread_key,
        tags=tags,
        snoozed_until=conversation.snoozed_until,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        last_message_at=conversation.last_message_at,
        offered_at=conversation.offered_at,
        accepted_at=conversation.accepted_at,
        first_response_at=conversation.first_response_at,
        resolved_at=conversation.resolved_at,
        reopened_at=conversation.reopened_at,
        sla=clocks or [],
        sentiment_trend=conversation.sentiment_trend,
        frustrated=conversation.frustrated,
    )


def read_attachment(item: Attachment) -> AttachmentRead:
    return AttachmentRead(
        id=item.id,
        filename=item.filename,
        content_type=item.content_type,
        size=item.size,
        url=f"/api/v1/attachments/{item.id}",
    )


async def read_notes(session: AsyncSession, notes: Sequence[Note]) -> list[NoteRead]:
    by_note: dict[int | None, list[AttachmentRead]] = {}
    for item in await repository.attachments_of_notes(session, [n.id for n in notes]):
        by_note.setdefault(item.note_id, []).append(read_attachment(item))
    return [
        NoteRead(
            id=note.id,
            conversation_id=note.conversation_id,
            agent_id=note.agent_id,
            text=note.text,
            created_at=note.created_at,
            attachments=by_note.get(note.id, []),
        )
        for note in notes
    ]


async def read_messages(session: AsyncSession, messages: Sequence[Message]) -> list[MessageRead]:
    attachments = await repository.attachments_of(session, [m.id for m in messages])
    by_message: dict[int | None, list[AttachmentRead]] = {}
    for item in attachments:
        by_message.setdefault(item.message_id, []).append(read_attachment(item))
    return [
        MessageRead(
            id=m.id,
            conversation_id=m.conversation_id,
            inbox_id=m.inbox_id,
            customer_id=m.customer_id,
            channel=m.channel,
            direction=m.direction,
            author_kind=m.author_kind,
            author_agent_id=m.author_agent_id,
            kind=m.kind,
            call=call_of(m.kind, m.meta),
            text=m.text,
            html=m.html,
            external_id=m.external_id,
            provider_message_id=m.provider_message_id,
            delivery_status=m.delivery_status,
            delivery_error=m.delivery_error,
            answered=m.answered if m.direction == "inbound" else None,
            edited=bool(m.meta.get("edited")),
            versions=[MessageVersion.model_validate(v) for v in m.meta.get("versions", [])],
            sentiment=m.sentiment,
            sentiment_score=m.sentiment_score,
            attachments=by_message.get(m.id, []),
            created_at=m.created_at,
            sent_at=m.sent_at,
        )
        for m in messages
    ]


@router.get("/sms/segments", response_model=SegmentsRead)
async def sms_segments(
    agent: CurrentAgent, text: str = Query(default="", max_length=1_000)
) -> SegmentsRead:
    """What a reply costs on SMS (GSM-7 160/153 characters per segment, UCS-2 70/67)."""
    return SegmentsRead(**asdict(count_segments(text)))


@router.get("/conversations", response_model=Page[ConversationRead])
async def list_conversations(
    session: SessionDep,
    agent: CurrentAgent,
    status: str | None = None,
    inbox_id: Id | None = None,
    assignee_id: Id | None = None,
    customer_id: Id | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[ConversationRead]:
    size = clamp_limit(limit)
    rows = await repository.list_conversations(
        session,
        inbox_ids=await visible_inbox_ids(session, agent),
        status=status,
        inbox_id=inbox_id,
        assignee_id=assignee_id,
        customer_id=customer_id,
        before=decode_cursor(cursor),
        limit=size,
    )
    items = await read_conversations(session, rows)
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == size else None)


@router.get("/conversations/{conversation_id}", response_model=ConversationRead)
async def get_conversation(
    conversation_id: Id, session: SessionDep, agent: CurrentAgent
) -> ConversationRead:
    return await read_conversation(
        session, await service.get_or_raise(session, conversation_id, agent=agent)
    )


@router.patch("/conversations/{conversation_id}", response_model=ConversationRead)
async def update_conversation(
    conversation_id: Id, data: ConversationUpdate, session: SessionDep, agent: CurrentAgent
) -> ConversationRead:
    conversation = await service.get_or_raise(session, conversation_id, agent=agent)
    await service.update(session, conversation, data, by=agent)
    await uow.commit(session)
    return await read_conversation(session, conversation)


@router.get("/conversations/{conversation_id}/messages", response_model=Page[MessageRead])
async def list_messages(
    conversation_id: Id,
    session: SessionDep,
    agent: CurrentAgent,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[MessageRead]:
    conversation = await service.get_or_raise(session, conversation_id, agent=agent)
    size = clamp_limit(limit)
    rows = await repository.list_messages(
        session, conversation.id, after=decode_cursor(cursor), limit=size
    )
    items = await read_messages(session, rows)
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == size else None)


@router.get("/conversations/{conversation_id}/activity", response_model=Page[ActivityRead])
async def list_activity(
    conversation_id: Id,
    session: SessionDep,
    agent: CurrentAgent,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[ActivityRead]:
    """Who changed what and when (status, assignment, priority, team, tags, snooze, subject,
    language, merges), oldest first; the cursor is the last event's sequence."""
    conversation = await service.get_or_raise(session, conversation_id, agent=agent)
    items, last = await activity.list_activity(
        session, conversation, after=decode_cursor(cursor), limit=clamp_limit(limit)
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.post(
    "/conversations/{conversation_id}/uploads", response_model=AttachmentRead, status_code=201
)
async def upload_file(
    conversation_id: Id,
    file: UploadFile,
    session: SessionDep,
    agent: CurrentAgent,
    runtime: RuntimeDep,
) -> AttachmentRead:
    """An agent's file for a later reply or note (`attachment_ids`); the inbox's upload types
    and size limit apply. Only the uploader can see or use it until a message takes it."""
    conversation = await service.get_or_raise(session, conversation_id, agent=agent)
    row = await store_upload(session, conversation, agent, file, runtime)
    await uow.commit(session)
    return read_attachment(row)


async def store_upload(
    session: AsyncSession,
    conversation: Conversation,
    agent: Agent,
    file: UploadFile,
    runtime: Runtime,
) -> Attachment:
    """A multipart file part as the agent's pending upload (API and desktop forms); reads one
    byte past the limit so an oversize file is refused rather than cut."""
    return await files.upload(
        session,
        conversation,
        agent=agent,
        filename=file.filename or "",
        content_type=file.content_type or "application/octet-stream",
        data=await file.read(runtime.settings.max_attachment_bytes + 1),
        blobs=runtime.blobs,
        app=runtime.settings,
    )


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=MessageRead | NoteRead,
    status_code=201,
    responses=errors(409),
)
async def post_message(
    conversation_id: Id, data: ReplyCreate, session: SessionDep, agent: CurrentAgent
) -> MessageRead | NoteRead:
    """An agent reply (queued for delivery), or an internal note with `private: true`; both
    may carry the agent's uploads by `attachment_ids`."""
    conversation = await service.get_or_raise(session, conversation_id, agent=agent)
    taken = await files.take(session, conversation, agent=agent, ids=data.attachment_ids)
    if data.private:
        note, _ = await desk.add_note(
            session, conversation, author=agent, text=data.text, attachments=taken
        )
        await uow.commit(session)
        return (await read_notes(session, [note]))[0]
    message = await service.reply(session, conversation, author=agent, data=data, attachments=taken)
    await uow.commit(session)
    return (await read_messages(session, [message]))[0]


@router.get("/conversations/{conversation_id}/notes", response_model=list[NoteRead])
async def list_notes(
    conversation_id: Id, session: SessionDep, agent: CurrentAgent
) -> list[NoteRead]:
    conversation = await service.get_or_raise(session, conversation_id, agent=agent)
    return await read_notes(session, await repository.list_notes(session, conversation.id))


@router.get("/attachments/{attachment_id}", response_class=Response, responses=FILE)
async def download_attachment(
    attachment_id: Id, session: SessionDep, agent: CurrentAgent, runtime: RuntimeDep
) -> Response:
    # Ownership: as visible as its conversation; a pending upload only to its uploader.
    attachment = await files.get_or_raise(session, attachment_id, agent=agent)
    return attachment_response(runtime.blobs.get(attachment.blob_key), attachment, preview=False)


# Raster images a browser shows without running anything; every other file downloads.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Call recordings and voicemails play in the timeline's <audio> (media is no script vector).
INLINE_AUDIO = ("audio/mpeg", "audio/wav", "audio/x-wav", "audio/ogg", "audio/webm")
# Browser video calls' recordings play in the timeline's <video>.
INLINE_VIDEO = ("video/webm",)


def attachment_response(
    data: bytes, attachment: Attachment, *, preview: bool, headers: dict[str, str] | None = None
) -> Response:
    """A stored file, served the same way on every path (API, desktop, widget): with
    `preview`, safe images inline; everything else as a download; never sniffed, sandboxed."""
    inline = preview and attachment.content_type in (*INLINE_IMAGES, *INLINE_AUDIO, *INLINE_VIDEO)
    disposition = "inline" if inline else "attachment"
    if not preview:
        disposition += f"; filename*=UTF-8''{quote(attachment.filename, safe='')}"
    return Response(
        data,
        media_type=attachment.content_type if inline else "application/octet-stream",
        headers={
            **(headers or {}),
            "content-disposition": disposition,
            "content-security-policy": "default-src 'none'; sandbox",
            "x-content-type-options": "nosniff",
            "cache-control": "private, max-age=300",
        },
    )
