"""Agents, teams and tokens (admins manage; everyone reads themselves)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from frontdesk.auth import repository, service
from frontdesk.auth.schemas import (
    AgentCreate,
    AgentInvite,
    AgentRead,
    AgentUpdate,
    InvitationRead,
    PasswordChange,
    ProfileUpdate,
    TeamCreate,
    TeamRead,
    TeamUpdate,
    TokenCreate,
    TokenInfo,
    TokenIssued,
    TokenRead,
)
from frontdesk.deps import AdminAgent, CurrentAgent, RuntimeDep, SessionDep, bearer_token
from frontdesk.kit import uow
from frontdesk.kit.openapi import errors
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id

router = APIRouter(tags=["agents"])


@router.get("/me", response_model=AgentRead)
async def read_me(agent: CurrentAgent) -> AgentRead:
    return AgentRead.model_validate(agent)


@router.get("/agents", response_model=Page[AgentRead])
async def list_agents(
    session: SessionDep, agent: CurrentAgent, cursor: str | None = None, limit: int | None = None
) -> Page[AgentRead]:
    size = clamp_limit(limit)
    rows = await repository.list_agents(session, after=decode_cursor(cursor), limit=size)
    items = [AgentRead.model_validate(row) for row in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == size else None)


@router.post("/agents", response_model=AgentRead, status_code=201, responses=errors(409))
async def create_agent(
    data: AgentCreate, session: SessionDep, runtime: RuntimeDep, admin: AdminAgent
) -> AgentRead:
    await uow.commit(session)  # ends the auth read: argon2 runs outside any transaction
    agent = await service.create_agent(session, data, cost=runtime.settings.password_cost)
    await uow.commit(session)
    return AgentRead.model_validate(agent)


@router.get("/agents/{agent_id}", response_model=AgentRead)
async def read_agent(agent_id: Id, session: SessionDep, agent: CurrentAgent) -> AgentRead:
    return AgentRead.model_validate(await service.get_agent_or_raise(session, agent_id))


@router.patch("/agents/{agent_id}", response_model=AgentRead, responses=errors(409))
async def update_agent(
    agent_id: Id,
    data: AgentUpdate,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    admin: AdminAgent,
) -> AgentRead:
    """A new password ends the agent's other sessions and tokens (an admin changing their own
    keeps the token of this request); deactivation ends all of them."""
    target = await service.get_agent_or_raise(session, agent_id)
    if data.password is not None:
        await uow.commit(session)  # argon2 runs outside any transaction (SQLite's hold the lock)
    agent = await service.update_agent(
        session,
        target,
        data,
        keep_token=bearer_token(request),
        cost=runtime.settings.password_cost,
    )
    await uow.commit(session)
    return AgentRead.model_validate(agent)


@router.post("/agents/{agent_id}/tokens", response_model=TokenRead, status_code=201)
async def create_token(
    agent_id: Id, data: TokenCreate, session: SessionDep, admin: AdminAgent
) -> TokenRead:
    agent = await service.get_agent_or_raise(session, agent_id)
    token = await service.issue_token(session, agent, name=data.name)
    await uow.commit(session)
    return TokenRead(token=token, agent_id=agent.id)


@router.get("/teams", response_model=list[TeamRead])
async def list_teams(session: SessionDep, agent: CurrentAgent) -> list[TeamRead]:
    return [await service.read_team(session, team) for team in await repository.list_teams(session)]


@router.post("/teams", response_model=TeamRead, status_code=201, responses=errors(409))
async def create_team(data: TeamCreate, session: SessionDep, admin: AdminAgent) -> TeamRead:
    team = await service.create_team(session, data)
    await uow.commit(session)
    return team


@router.patch("/teams/{team_id}", response_model=TeamRead, responses=errors(409))
async def update_team(
    team_id: Id, data: TeamUpdate, session: SessionDep, admin: AdminAgent
) -> TeamRead:
    team = await service.update_team(
        session, await service.get_team_or_raise(session, team_id), data
    )
    await uow.commit(session)
    return team


@router.delete("/me/token", status_code=204)
async def revoke_own_token(request: Request, session: SessionDep, agent: CurrentAgent) -> None:
    """Revoke the bearer token this request was made with."""
    token = bearer_token(request)
    assert token is not None
    await service.revoke_token(session, token)
    await uow.commit(session)


def invitation_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/invite/{token}"


@router.post("/agents/invitations", response_model=InvitationRead, status_code=201,
             responses=errors(409))  # fmt: skip
async def invite_agent(
    data: AgentInvite, session: SessionDep, runtime: RuntimeDep, admin: AdminAgent
) -> InvitationRead:
    """Create an agent without a password and answer the invitation link (shown once): the
    agent chooses their password there, then logs in."""
    await uow.commit(session)  # ends the auth read: argon2 runs outside any transaction
    agent, token, expires = await service.invite_agent(
        session, data, cost=runtime.settings.password_cost
    )
    await uow.commit(session)
    url = invitation_url(runtime.settings.base_url, token)
    return InvitationRead(agent=AgentRead.model_validate(agent), invitation_url=url,
                          expires_at=expires)  # fmt: skip


@router.post("/agents/{agent_id}/invitation", response_model=InvitationRead, status_code=201)
async def reinvite_agent(
    agent_id: Id, session: SessionDep, runtime: RuntimeDep, admin: AdminAgent
) -> InvitationRead:
    """A new invitation link for an agent (earlier links stop working)."""
    agent = await service.get_agent_or_raise(session, agent_id)
    token, expires = await service.reinvite(session, agent)
    await uow.commit(session)
    url = invitation_url(runtime.settings.base_url, token)
    return InvitationRead(agent=AgentRead.model_validate(agent), invitation_url=url,
                          expires_at=expires)  # fmt: skip


@router.patch("/me", response_model=AgentRead)
async def update_me(data: ProfileUpdate, session: SessionDep, agent: CurrentAgent) -> AgentRead:
    """Your own name, language and e-mail signature."""
    await service.update_profile(session, agent, data)
    await uow.commit(session)
    return AgentRead.model_validate(agent)


@router.post("/me/password", status_code=204, responses=errors(422))
async def change_my_password(
    data: PasswordChange, request: Request, session: SessionDep, runtime: RuntimeDep,
    agent: CurrentAgent,
) -> None:  # fmt: skip
    """Change your password (the current one is required); your other sessions and tokens
    end, the token of this request stays."""
    await uow.commit(session)  # argon2 runs outside any transaction
    cost = runtime.settings.password_cost
    await service.verify_current_password(agent, data, cost=cost)
    await service.change_password(session, agent, data, keep_token=bearer_token(request), cost=cost)
    await uow.commit(session)


@router.get("/me/tokens", response_model=list[TokenInfo])
async def list_my_tokens(session: SessionDep, agent: CurrentAgent) -> list[TokenInfo]:
    """Your API tokens: name, prefix, created and last used (never the token itself)."""
    return [TokenInfo.model_validate(row) for row in await service.list_tokens(session, agent)]


@router.post("/me/tokens", response_model=TokenIssued, status_code=201)
async def create_my_token(
    data: TokenCreate, session: SessionDep, agent: CurrentAgent
) -> TokenIssued:
    """A new API token of yours, shown this once."""
    token = await service.issue_token(session, agent, name=data.name)
    await uow.commit(session)
    row = (await service.list_tokens(session, agent))[0]
    return TokenIssued(token=token, **TokenInfo.model_validate(row).model_dump())


@router.delete("/me/tokens/{token_id}", status_code=204)
async def revoke_my_token(token_id: Id, session: SessionDep, agent: CurrentAgent) -> None:
    await service.revoke_token_by_id(session, agent, token_id)
    await uow.commit(session)
