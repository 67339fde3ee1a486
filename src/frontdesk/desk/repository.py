"""All SQL of the agent desktop: the inbox views, canned responses and mentions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import TeamMember
from frontdesk.conversations.models import Conversation, ConversationTag, Message, Note, Tag
from frontdesk.customers.models import Customer, Identity
from frontdesk.desk.models import CannedResponse, Mention
from frontdesk.inboxes.models import Inbox, InboxTeam

VIEWS = ("mine", "unassigned", "teams", "all")
_LIKE_SPECIAL = re.compile(r"[\\%_]")


@dataclass
class InboxFilter:
    view: str = "all"
    status: str | None = "open"
    channel: str | None = None
    inbox_id: int | None = None
    tag: str | None = None
    priority: str | None = None
    q: str | None = None
    # From the reports' charts: conversations opened in [since, until), of a team or agent
    # (0 = none).
    since: datetime | None = None
    until: datetime | None = None
    team_id: int | None = None
    assignee_id: int | None = None


def _base(agent_id: int, visible: set[int] | None, view: str, f: InboxFilter) -> Select[Any]:
    query = select(Conversation)
    if visible is not None:
        query = query.where(Conversation.inbox_id.in_(visible or {-1}))
    if view == "mine":
        query = query.where(Conversation.assignee_id == agent_id)
    elif view == "unassigned":
        query = query.where(Conversation.assignee_id.is_(None))
    elif view == "teams":
        my_teams = select(TeamMember.team_id).where(TeamMember.agent_id == agent_id)
        served = select(InboxTeam.inbox_id).where(InboxTeam.team_id.in_(my_teams))
        query = query.where(
            or_(Conversation.team_id.in_(my_teams), Conversation.inbox_id.in_(served))
        )
    if f.status:
        query = query.where(Conversation.status == f.status)
    if f.priority:
        query = query.where(Conversation.priority == f.priority)
    if f.inbox_id is not None:
        query = query.where(Conversation.inbox_id == f.inbox_id)
    if f.since is not None:
        query = query.where(Conversation.created_at >= f.since)
    if f.until is not None:
        query = query.where(Conversation.created_at < f.until)
    if f.team_id is not None:
        query = query.where(Conversation.team_id == (f.team_id or None))
    if f.assignee_id is not None:
        query = query.where(Conversation.assignee_id == (f.assignee_id or None))
    if f.channel:
        query = query.where(
            Conversation.inbox_id.in_(select(Inbox.id).where(Inbox.channel == f.channel))
        )
    if f.tag:
        query = query.where(
            exists().where(
                ConversationTag.conversation_id == Conversation.id,
                ConversationTag.tag_id == Tag.id,
                Tag.name == f.tag,
            )
        )
    if f.q:
        # The search is for the words typed: % and _ are letters here, not wildcards.
        needle = "%" + _LIKE_SPECIAL.sub(r"\\\g<0>", f.q.lower()) + "%"
        query = query.where(
            or_(
                exists().where(
                    Customer.id == Conversation.customer_id,
                    func.lower(Customer.name).like(needle, escape="\\"),
                ),
                exists().where(
                    Identity.customer_id == Conversation.customer_id,
                    func.lower(Identity.address).like(needle, escape="\\"),
                ),
                exists().where(
                    Message.conversation_id == Conversation.id,
                    func.lower(Message.text).like(needle, escape="\\"),
                ),
            )
        )
    return query


async def list_view(
    session: AsyncSession, *, agent_id: int, visible: set[int] | None, f: InboxFilter, limit: int
) -> Sequence[Conversation]:
    query = (
        _base(agent_id, visible, f.view, f)
        .order_by(
            func.coalesce(Conversation.last_message_at, Conversation.created_at).desc(),
            Conversation.id.desc(),
        )
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def count_views(
    session: AsyncSession, *, agent_id: int, visible: set[int] | None, f: InboxFilter
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for view in VIEWS:
        sub = _base(agent_id, visible, view, f).with_only_columns(Conversation.id).subquery()
        counts[view] = int(await session.scalar(select(func.count()).select_from(sub)) or 0)
    return counts


async def last_messages(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, Message]:
    if not conversation_ids:
        return {}
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id)
    )
    rows = (await session.scalars(select(Message).where(Message.id.in_(latest)))).all()
    return {row.conversation_id: row for row in rows}


async def customers_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Customer]:
    if not ids:
        return {}
    rows = (await session.scalars(select(Customer).where(Customer.id.in_(set(ids))))).all()
    return {row.id: row for row in rows}


async def conversations_of_customer(
    session: AsyncSession, customer_id: int, *, visible: set[int] | None, limit: int = 20
) -> Sequence[Conversation]:
    query = (
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .order_by(Conversation.id.desc())
        .limit(limit)
    )
    if visible is not None:
        query = query.where(Conversation.inbox_id.in_(visible or {-1}))
    return (await session.scalars(query)).all()


async def all_tags(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Tag.name).order_by(Tag.name))).all())


async def get_canned(session: AsyncSession, canned_id: int) -> CannedResponse | None:
    return await session.get(CannedResponse, canned_id)


async def list_canned(session: AsyncSession, agent_id: int) -> Sequence[CannedResponse]:
    """Shared responses and the agent's own, by shortcut."""
    return (
        await session.scalars(
            select(CannedResponse)
            .where(or_(CannedResponse.owner_id.is_(None), CannedResponse.owner_id == agent_id))
            .order_by(CannedResponse.shortcut, CannedResponse.id)
        )
    ).all()


def _mentions_of(agent_id: int, visible: set[int] | None) -> Select[Mention, str]:
    # Mentions in conversations the agent can no longer see (team changed) are hidden.
    query = (
        select(Mention, Note.text)
        .join(Note, Note.id == Mention.note_id)
        .join(Conversation, Conversation.id == Mention.conversation_id)
        .where(Mention.agent_id == agent_id)
    )
    if visible is not None:
        query = query.where(Conversation.inbox_id.in_(visible or {-1}))
    return query


async def list_mentions(
    session: AsyncSession,
    agent_id: int,
    *,
    visible: set[int] | None,
    unread_only: bool,
    before: int | None,
    limit: int,
) -> list[tuple[Mention, str]]:
    """Newest first, with the note's text."""
    query = _mentions_of(agent_id, visible)
    if unread_only:
        query = query.where(Mention.read_at.is_(None))
    if before is not None:
        query = query.where(Mention.id < before)
    rows = await session.execute(query.order_by(Mention.id.desc()).limit(limit))
    return [(mention, text) for mention, text in rows.all()]


async def count_unread_mentions(
    session: AsyncSession, agent_id: int, *, visible: set[int] | None
) -> int:
    # Uses index: ix_mentions_agent_unread.
    query = _mentions_of(agent_id, visible).where(Mention.read_at.is_(None))
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def get_mention(session: AsyncSession, mention_id: int) -> Mention | None:
    return await session.get(Mention, mention_id)


async def mark_mentions_read(
    session: AsyncSession, agent_id: int, *, at: Any, conversation_id: int | None = None
) -> int:
    """Mark the agent's unread mentions read (all, or those of one conversation)."""
    statement = update(Mention).where(Mention.agent_id == agent_id, Mention.read_at.is_(None))
    if conversation_id is not None:
        statement = statement.where(Mention.conversation_id == conversation_id)
    result = await session.execute(
        statement.values(read_at=at).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
