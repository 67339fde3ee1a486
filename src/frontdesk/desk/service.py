"""The agent desktop's own rules: canned responses (with variables) and @mentions in notes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Attachment, Conversation, Note
from frontdesk.customers.models import Customer
from frontdesk.db import utcnow
from frontdesk.desk import repository
from frontdesk.desk.models import CannedResponse, Mention
from frontdesk.desk.schemas import CannedCreate, CannedRead, MentionRead
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit.errors import Forbidden, NotFound
from frontdesk.kit.events import record

VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\.([a-z_]+)\s*\}\}")
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


async def create_canned(session: AsyncSession, agent: Agent, data: CannedCreate) -> CannedResponse:
    """A personal response, or a shared one (supervisors and admins only)."""
    if data.shared and not agent.sees_everything:
        raise Forbidden("only supervisors and admins share canned responses", code="forbidden")
    row = CannedResponse(
        owner_id=None if data.shared else agent.id,
        shortcut=data.shortcut,
        title=data.title,
        text=data.text,
    )
    session.add(row)
    await session.flush()
    return row


async def get_canned_or_raise(
    session: AsyncSession, canned_id: int, *, agent: Agent
) -> CannedResponse:
    row = await repository.get_canned(session, canned_id)
    if row is None or (row.owner_id is not None and row.owner_id != agent.id):
        raise NotFound("canned response not found")
    return row


async def delete_canned(session: AsyncSession, row: CannedResponse, *, agent: Agent) -> None:
    """Owners delete their own; shared ones only supervisors and admins."""
    if row.owner_id is None and not agent.sees_everything:
        raise Forbidden("only supervisors and admins change shared responses", code="forbidden")
    await session.delete(row)
    await session.flush()


async def list_canned(session: AsyncSession, agent: Agent) -> list[CannedRead]:
    return [read_canned(row) for row in await repository.list_canned(session, agent.id)]


def read_canned(row: CannedResponse) -> CannedRead:
    return CannedRead(
        id=row.id,
        shortcut=row.shortcut,
        title=row.title,
        text=row.text,
        shared=row.owner_id is None,
        owner_id=row.owner_id,
    )


def fill_variables(
    text: str,
    *,
    customer: Customer | None,
    agent: Agent,
    conversation: Conversation | None,
    email: str | None = None,
) -> str:
    """Replace {{customer.first_name}} and friends; unknown variables stay as written.
    Plain substitution, never template evaluation: canned text is data, not code."""
    customer_name = (customer.name or "").strip() if customer else ""
    values = {
        ("customer", "name"): customer_name,
        ("customer", "first_name"): customer_name.split(" ")[0] if customer_name else "",
        ("customer", "email"): email or "",
        ("agent", "name"): agent.name,
        ("agent", "first_name"): agent.name.split(" ")[0],
        ("conversation", "id"): str(conversation.id) if conversation else "",
    }

    def substitute(match: re.Match[str]) -> str:
        value = values.get((match.group(1), match.group(2)))
        return match.group(0) if value is None else value

    return VARIABLE.sub(substitute, text)


async def mentioned_agents(session: AsyncSession, text: str) -> list[Agent]:
    """Agents named in a note as @email or @first-name (case-insensitive)."""
    handles = {handle.lower().rstrip(".") for handle in MENTION.findall(text)}
    if not handles:
        return []
    found: dict[int, Agent] = {}
    for agent in await auth_repository.list_agents(session, after=None, limit=1000):
        first = agent.name.split(" ")[0].lower()
        if agent.active and (agent.email in handles or first in handles):
            found[agent.id] = agent
    return list(found.values())


async def add_note(
    session: AsyncSession,
    conversation: Conversation,
    *,
    author: Agent,
    text: str,
    attachments: Sequence[Attachment] = (),
) -> tuple[Note, Sequence[Agent]]:
    """An internal note; every @mentioned agent who may see the conversation (other than the
    author) gets an unread mention and a `note.mentioned` event."""
    note = await conversations.add_note(
        session, conversation, author=author, text=text, attachments=attachments
    )
    mentioned = [
        agent
        for agent in await mentioned_agents(session, text)
        if agent.id != author.id and await _may_see(session, agent, conversation)
    ]
    for agent in mentioned:
        session.add(
            Mention(
                agent_id=agent.id,
                note_id=note.id,
                conversation_id=conversation.id,
                by_agent_id=author.id,
            )
        )
        record(
            session,
            "note.mentioned",
            {
                "note_id": note.id,
                "conversation_id": conversation.id,
                "agent_id": agent.id,
                "by": author.id,
            },
            inbox_id=conversation.inbox_id,
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
        )
    await session.flush()
    return note, mentioned


async def _may_see(session: AsyncSession, agent: Agent, conversation: Conversation) -> bool:
    inbox_ids = await visible_inbox_ids(session, agent)
    return inbox_ids is None or conversation.inbox_id in inbox_ids


async def list_mentions(
    session: AsyncSession,
    agent: Agent,
    *,
    unread_only: bool = False,
    before: int | None = None,
    limit: int = 50,
) -> list[MentionRead]:
    """The agent's own mentions, newest first, only in conversations they may still see."""
    rows = await repository.list_mentions(
        session,
        agent.id,
        visible=await visible_inbox_ids(session, agent),
        unread_only=unread_only,
        before=before,
        limit=limit,
    )
    names: dict[int, str] = {}
    for mention, _ in rows:
        if mention.by_agent_id is not None and mention.by_agent_id not in names:
            by = await auth_repository.get_agent(session, mention.by_agent_id)
            names[mention.by_agent_id] = by.name if by else ""
    return [
        MentionRead(
            id=mention.id,
            conversation_id=mention.conversation_id,
            note_id=mention.note_id,
            by_agent_id=mention.by_agent_id,
            by_name=names.get(mention.by_agent_id or 0) or None,
            text=text[:300],
            created_at=mention.created_at,
            read_at=mention.read_at,
            url=f"/conversations/{mention.conversation_id}",
        )
        for mention, text in rows
    ]


async def unread_mentions(session: AsyncSession, agent: Agent) -> int:
    return await repository.count_unread_mentions(
        session, agent.id, visible=await visible_inbox_ids(session, agent)
    )


async def mark_mention_read(session: AsyncSession, agent: Agent, mention_id: int) -> Mention:
    """One of the agent's own mentions; anyone else's is not found."""
    mention = await repository.get_mention(session, mention_id)
    if mention is None or mention.agent_id != agent.id:
        raise NotFound("mention not found")
    if mention.read_at is None:
        mention.read_at = utcnow()
        await session.flush()
    return mention


async def mark_mentions_read(
    session: AsyncSession, agent: Agent, *, conversation_id: int | None = None
) -> int:
    """All the agent's unread mentions, or those of one conversation (opening it reads them)."""
    return await repository.mark_mentions_read(
        session, agent.id, at=utcnow(), conversation_id=conversation_id
    )
