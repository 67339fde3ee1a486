"""All SQL of the auth domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent, ApiToken, Team, TeamMember
from frontdesk.kit import memo


async def get_agent(session: AsyncSession, agent_id: int) -> Agent | None:
    return await session.get(Agent, agent_id)


async def agent_with_extension(session: AsyncSession, extension: str) -> Agent | None:
    return await session.scalar(select(Agent).where(Agent.extension == extension))


async def get_agent_by_email(session: AsyncSession, email: str) -> Agent | None:
    return await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))


def agent_by_token_query(digest: str, now: datetime, *, kind: str) -> Select[Agent]:
    """The active agent a live token of this kind belongs to, as a query other reads may add
    columns to (the desktop's page_agent adds the agent's presence and preferences)."""
    # Uses index: api_tokens.digest (unique).
    return (
        select(Agent)
        .join(ApiToken, ApiToken.agent_id == Agent.id)
        .where(
            ApiToken.digest == digest,
            ApiToken.kind == kind,
            Agent.active.is_(True),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
    )


async def get_agent_by_token(
    session: AsyncSession, digest: str, now: datetime, *, kind: str
) -> Agent | None:
    return await session.scalar(agent_by_token_query(digest, now, kind=kind))


async def get_token_owner(session: AsyncSession, digest: str) -> int | None:
    return await session.scalar(select(ApiToken.agent_id).where(ApiToken.digest == digest))


async def delete_token(session: AsyncSession, digest: str) -> None:
    await session.execute(delete(ApiToken).where(ApiToken.digest == digest))


async def delete_agent_tokens(
    session: AsyncSession, agent_id: int, *, keep_digest: str | None = None
) -> None:
    """Delete every token and session of an agent, except the one with `keep_digest`."""
    query = delete(ApiToken).where(ApiToken.agent_id == agent_id)
    if keep_digest is not None:
        query = query.where(ApiToken.digest != keep_digest)
    await session.execute(query.execution_options(synchronize_session=False))


async def list_agents(session: AsyncSession, *, after: int | None, limit: int) -> Sequence[Agent]:
    query = select(Agent).order_by(Agent.id).limit(limit)
    if after is not None:
        query = query.where(Agent.id > after)

    async def load() -> Sequence[Agent]:
        return (await session.scalars(query)).all()

    # Once per request: a conversation page asks from its timeline, its header and its list.
    return await memo.once(session, ("agents", after, limit), load)


async def get_team(session: AsyncSession, team_id: int) -> Team | None:
    return await session.get(Team, team_id)


async def get_team_by_name(session: AsyncSession, name: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.name == name))


async def list_teams(session: AsyncSession) -> Sequence[Team]:
    async def load() -> Sequence[Team]:
        return (await session.scalars(select(Team).order_by(Team.id))).all()

    return await memo.once(session, ("teams",), load)


async def team_member_ids(session: AsyncSession, team_id: int) -> list[int]:
    rows = await session.scalars(select(TeamMember.agent_id).where(TeamMember.team_id == team_id))
    return list(rows.all())


async def agent_team_ids(session: AsyncSession, agent_id: int) -> list[int]:
    rows = await session.scalars(select(TeamMember.team_id).where(TeamMember.agent_id == agent_id))
    return list(rows.all())


async def set_team_members(session: AsyncSession, team_id: int, agent_ids: Sequence[int]) -> None:
    await session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    session.add_all(TeamMember(team_id=team_id, agent_id=agent_id) for agent_id in set(agent_ids))


async def delete_agent_tokens_of_kind(session: AsyncSession, agent_id: int, kind: str) -> None:
    await session.execute(
        delete(ApiToken)
        .where(ApiToken.agent_id == agent_id, ApiToken.kind == kind)
        .execution_options(synchronize_session=False)
    )


async def list_tokens(session: AsyncSession, agent_id: int, *, kind: str) -> Sequence[ApiToken]:
    # Uses index: ix_api_tokens_agent_id.
    return (
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.agent_id == agent_id, ApiToken.kind == kind)
            .order_by(ApiToken.id.desc())
            .limit(200)
        )
    ).all()


async def get_token(session: AsyncSession, token_id: int) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def has_pending_invitation(session: AsyncSession, agent_ids: Sequence[int]) -> set[int]:
    """Which of these agents still have an invitation open (they never chose a password)."""
    if not agent_ids:
        return set()
    rows = await session.scalars(
        select(ApiToken.agent_id).where(ApiToken.agent_id.in_(agent_ids), ApiToken.kind == "invite")
    )
    return set(rows.all())


async def token_use_stale(session: AsyncSession, digest: str, stale: datetime) -> bool:
    # Uses index: api_tokens.digest.
    last = await session.execute(
        select(ApiToken.last_used_at).where(ApiToken.digest == digest, ApiToken.kind == "api")
    )
    row = last.first()
    return row is not None and (row[0] is None or row[0] <= stale)


async def touch_token(session: AsyncSession, digest: str, now: datetime, stale: datetime) -> bool:
    # Read first: the write, and on SQLite its lock, happen only when the stamp is stale.
    if not await token_use_stale(session, digest, stale):
        return False
    await session.execute(
        update(ApiToken)
        .where(ApiToken.digest == digest)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return True


async def count_active_admins(session: AsyncSession) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Agent).where(Agent.role == "admin", Agent.active.is_(True))
    )
    return int(found or 0)
