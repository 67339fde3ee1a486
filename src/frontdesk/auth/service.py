"""Agents, teams and tokens: the only writers of the auth tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository
from frontdesk.auth.models import Agent, ApiToken, Team
from frontdesk.auth.schemas import AgentCreate, AgentUpdate, TeamCreate, TeamRead, TeamUpdate
from frontdesk.db import utcnow
from frontdesk.kit.errors import Conflict, Invalid, NotFound, Unauthorized
from frontdesk.kit.events import record
from frontdesk.kit.security import hash_password, new_token, token_digest, verify_password

SESSION_LIFETIME = timedelta(days=14)


async def create_agent(session: AsyncSession, data: AgentCreate) -> Agent:
    """Create an agent with an argon2-hashed password."""
    email = data.email.strip().lower()
    if await repository.get_agent_by_email(session, email):
        raise Conflict(f"an agent with e-mail {email} exists", code="agent_exists")
    agent = Agent(
        email=email,
        name=data.name,
        password_hash=hash_password(data.password),
        role=data.role,
        language=data.language,
        active=True,
    )
    session.add(agent)
    await session.flush()
    record(session, "agent.created", {"agent_id": agent.id, "role": agent.role})
    return agent


async def update_agent(session: AsyncSession, agent: Agent, data: AgentUpdate) -> Agent:
    """Change an agent's profile, role, password or active flag."""
    changes = data.model_dump(exclude_unset=True)
    if "password" in changes:
        agent.password_hash = hash_password(changes.pop("password"))
    for name, value in changes.items():
        if value is not None:
            setattr(agent, name, value)
    await session.flush()
    record(session, "agent.updated", {"agent_id": agent.id})
    return agent


async def get_agent_or_raise(session: AsyncSession, agent_id: int) -> Agent:
    agent = await repository.get_agent(session, agent_id)
    if agent is None:
        raise NotFound("agent not found")
    return agent


async def authenticate(session: AsyncSession, email: str, password: str) -> Agent:
    """Check a password login; the same error for unknown e-mail and wrong password."""
    agent = await repository.get_agent_by_email(session, email)
    if agent is None or not agent.active or not verify_password(password, agent.password_hash):
        raise Unauthorized("wrong e-mail or password", code="bad_credentials")
    return agent


async def issue_token(
    session: AsyncSession, agent: Agent, *, kind: str = "api", name: str = "api"
) -> str:
    """Create a bearer token (or browser session) and return it; only its digest is stored."""
    token = new_token("fds" if kind == "session" else "fd")
    expires = utcnow() + SESSION_LIFETIME if kind == "session" else None
    session.add(
        ApiToken(
            agent_id=agent.id, digest=token_digest(token), kind=kind, name=name, expires_at=expires
        )
    )
    await session.flush()
    return token


async def agent_for_token(session: AsyncSession, token: str) -> Agent | None:
    return await repository.get_agent_by_token(session, token_digest(token), utcnow())


async def revoke_token(session: AsyncSession, token: str) -> None:
    await repository.delete_token(session, token_digest(token))


async def _check_agents(session: AsyncSession, agent_ids: list[int]) -> None:
    for agent_id in set(agent_ids):
        if await repository.get_agent(session, agent_id) is None:
            raise Invalid(f"agent {agent_id} does not exist", code="unknown_agent")


async def create_team(session: AsyncSession, data: TeamCreate) -> TeamRead:
    """Create a team with its members."""
    if await repository.get_team_by_name(session, data.name):
        raise Conflict(f"team {data.name!r} exists", code="team_exists")
    await _check_agents(session, data.agent_ids)
    team = Team(name=data.name)
    session.add(team)
    await session.flush()
    await repository.set_team_members(session, team.id, data.agent_ids)
    await session.flush()
    record(session, "team.created", {"team_id": team.id})
    return await read_team(session, team)


async def update_team(session: AsyncSession, team: Team, data: TeamUpdate) -> TeamRead:
    """Rename a team or replace its members."""
    if data.name is not None and data.name != team.name:
        if await repository.get_team_by_name(session, data.name):
            raise Conflict(f"team {data.name!r} exists", code="team_exists")
        team.name = data.name
    if data.agent_ids is not None:
        await _check_agents(session, data.agent_ids)
        await repository.set_team_members(session, team.id, data.agent_ids)
    await session.flush()
    record(session, "team.updated", {"team_id": team.id})
    return await read_team(session, team)


async def get_team_or_raise(session: AsyncSession, team_id: int) -> Team:
    team = await repository.get_team(session, team_id)
    if team is None:
        raise NotFound("team not found")
    return team


async def read_team(session: AsyncSession, team: Team) -> TeamRead:
    return TeamRead(
        id=team.id, name=team.name, agent_ids=await repository.team_member_ids(session, team.id)
    )
