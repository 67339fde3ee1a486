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
from frontdesk.desk import repository
from frontdesk.desk.models import CannedResponse
from frontdesk.desk.schemas import CannedCreate, CannedRead
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
    """An internal note; every @mentioned agent gets a `note.mentioned` event."""
    note = await conversations.add_note(
        session, conversation, author=author, text=text, attachments=attachments
    )
    mentioned = await mentioned_agents(session, text)
    for agent in mentioned:
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
    return note, mentioned
