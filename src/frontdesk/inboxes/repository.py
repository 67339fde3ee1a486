"""All SQL about inboxes and who serves them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent, TeamMember
from frontdesk.inboxes.models import Inbox, InboxTeam, InboxTemplate
from frontdesk.kit import memo


async def get_inbox(session: AsyncSession, inbox_id: int) -> Inbox | None:
    return await session.get(Inbox, inbox_id)


async def list_inboxes(
    session: AsyncSession, *, only: set[int] | None, after: int | None, limit: int
) -> Sequence[Inbox]:
    query = select(Inbox).order_by(Inbox.id).limit(limit)
    if only is not None:
        query = query.where(Inbox.id.in_(only or {-1}))
    if after is not None:
        query = query.where(Inbox.id > after)

    async def load() -> Sequence[Inbox]:
        return (await session.scalars(query)).all()

    # Once per request: the list's rows and the "Reply on" menu both ask.
    key = ("inboxes", None if only is None else frozenset(only), after, limit)
    return await memo.once(session, key, load)


async def inbox_team_ids(session: AsyncSession, inbox_id: int) -> list[int]:
    rows = await session.scalars(select(InboxTeam.team_id).where(InboxTeam.inbox_id == inbox_id))
    return list(rows.all())


async def set_inbox_teams(session: AsyncSession, inbox_id: int, team_ids: Sequence[int]) -> None:
    await session.execute(delete(InboxTeam).where(InboxTeam.inbox_id == inbox_id))
    session.add_all(InboxTeam(inbox_id=inbox_id, team_id=team_id) for team_id in set(team_ids))


async def served_inbox_ids(session: AsyncSession, agent: Agent) -> set[int]:
    async def load() -> set[int]:
        rows = await session.scalars(
            select(InboxTeam.inbox_id)
            .join(TeamMember, TeamMember.team_id == InboxTeam.team_id)
            .where(TeamMember.agent_id == agent.id)
        )
        return set(rows.all())

    # Once per request: a conversation page checks visibility from half a dozen places.
    return await memo.once(session, ("served_inboxes", agent.id), load)


async def channels_of(session: AsyncSession, inbox_ids: set[int]) -> dict[int, str]:
    if not inbox_ids:
        return {}
    rows = await session.execute(select(Inbox.id, Inbox.channel).where(Inbox.id.in_(inbox_ids)))
    return {inbox_id: channel for inbox_id, channel in rows.all()}


async def get_inboxes(session: AsyncSession, inbox_ids: set[int]) -> dict[int, Inbox]:
    if not inbox_ids:
        return {}
    rows = await session.scalars(select(Inbox).where(Inbox.id.in_(inbox_ids)))
    return {inbox.id: inbox for inbox in rows.all()}


async def team_ids_by_inbox(session: AsyncSession, inbox_ids: set[int]) -> dict[int, list[int]]:
    if not inbox_ids:
        return {}
    rows = await session.execute(
        select(InboxTeam.inbox_id, InboxTeam.team_id).where(InboxTeam.inbox_id.in_(inbox_ids))
    )
    teams: dict[int, list[int]] = {}
    for inbox_id, team_id in rows.all():
        teams.setdefault(inbox_id, []).append(team_id)
    return teams


async def list_templates(session: AsyncSession, inbox_id: int) -> Sequence[InboxTemplate]:
    query = (
        select(InboxTemplate)
        .where(InboxTemplate.inbox_id == inbox_id)
        .order_by(InboxTemplate.name, InboxTemplate.language)
    )
    return (await session.scalars(query)).all()


async def get_template(session: AsyncSession, template_id: int) -> InboxTemplate | None:
    return await session.get(InboxTemplate, template_id)


async def find_template(
    session: AsyncSession, inbox_id: int, *, name: str, language: str
) -> InboxTemplate | None:
    return await session.scalar(
        select(InboxTemplate).where(
            InboxTemplate.inbox_id == inbox_id,
            InboxTemplate.name == name,
            InboxTemplate.language == language,
        )
    )
