"""Agents, teams and tokens: the only writers of the auth tables."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository
from frontdesk.auth.events import LOCKED_OUT, LOGIN_FAILED, AccessReason, access_changed
from frontdesk.auth.models import Agent, ApiToken, Team
from frontdesk.auth.schemas import (
    AgentCreate,
    AgentInvite,
    AgentUpdate,
    PasswordChange,
    ProfileUpdate,
    TeamCreate,
    TeamRead,
    TeamUpdate,
)
from frontdesk.config import Settings
from frontdesk.db import utcnow
from frontdesk.kit import ratelimit
from frontdesk.kit.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from frontdesk.kit.events import record
from frontdesk.kit.security import (
    RECOMMENDED,
    PasswordCost,
    check_password,
    hash_password_async,
    new_token,
    token_digest,
)

SESSION_LIFETIME = timedelta(days=14)
INVITATION_LIFETIME = timedelta(days=7)
# A bearer token's last use is written at most this often (one write per token per grain,
# not one per request).
TOKEN_USE_GRAIN = timedelta(minutes=10)
TOKEN_PREFIX = 10  # "fd_" and 7 random characters: enough to tell tokens apart, not to use
MIN_PASSWORD = 10
# The most common passwords of public breach lists that pass the length rule.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "qwertyuiop",
        "1q2w3e4r5t",
        "password12",
        "password123",
        "password1234",
        "iloveyou12",
        "qwerty1234",
        "qwerty12345",
        "1qaz2wsx3edc",
        "abcdefghij",
        "passw0rd123",
        "letmein123",
        "welcome123",
        "admin12345",
        "changeme123",
        "frontdesk1",
        "frontdesk123",
        "aaaaaaaaaa",
        "0000000000",
        "1111111111",
        "9876543210",
    }
)
# Fixed windows of the login limits (Settings.login_*): failures of one (account, IP) pair
# count for 15 minutes, failures of one account from anywhere for an hour.
PAIR_WINDOW = 15 * 60
ACCOUNT_WINDOW = 60 * 60
MAX_DELAY = 8.0


class BadCredentials(Unauthorized):
    """Wrong e-mail or password; answer after `delay` seconds (grows with each failure)."""

    def __init__(self, delay: float) -> None:
        super().__init__("wrong e-mail or password", code="bad_credentials")
        self.delay = delay


async def create_agent(
    session: AsyncSession, data: AgentCreate, *, cost: PasswordCost = RECOMMENDED
) -> Agent:
    """Create an agent with an argon2-hashed password (`cost`: Settings.password_cost)."""
    email = data.email.strip().lower()
    # Before any query: argon2 runs outside a transaction (an SQLite one holds the write lock).
    password_hash = await hash_password_async(data.password, cost)
    if await repository.get_agent_by_email(session, email):
        raise Conflict(f"an agent with e-mail {email} exists", code="agent_exists")
    extension = await _free_extension(session, data.extension, 0)
    agent = Agent(
        email=email,
        name=data.name,
        password_hash=password_hash,
        role=data.role,
        language=data.language,
        active=True,
        extension=extension,
    )
    session.add(agent)
    await session.flush()
    record(session, "agent.created", {"agent_id": agent.id, "role": agent.role})
    return agent


async def update_agent(
    session: AsyncSession,
    agent: Agent,
    data: AgentUpdate,
    *,
    keep_token: str | None = None,
    cost: PasswordCost = RECOMMENDED,
) -> Agent:
    """Change an agent's profile, role, password or active flag.

    A new password ends every session and token of the agent except `keep_token` (the
    credential of the request, when agents change their own password); deactivation ends all
    of them. Either way the agent's open sockets close within a second (auth/events.py)."""
    changes = data.model_dump(exclude_unset=True)
    reason: AccessReason | None = None
    demoted = changes.get("role") not in (None, "admin") or changes.get("active") is False
    last = agent.role == "admin" and agent.active and demoted
    if last and await repository.count_active_admins(session) <= 1:
        raise Conflict("at least one active admin must remain", code="last_admin")
    password = changes.pop("password", None)
    if password is not None:
        # Outside any transaction when the caller committed first (auth/views.py does).
        agent.password_hash = await hash_password_async(password, cost)
        keep = token_digest(keep_token) if keep_token else None
        await repository.delete_agent_tokens(session, agent.id, keep_digest=keep)
        reason = "password_changed"
    if changes.get("active") is False and agent.active:
        await repository.delete_agent_tokens(session, agent.id)
        reason = "deactivated"
    if "extension" in changes:
        agent.extension = await _free_extension(session, changes.pop("extension"), agent.id)
    for name, value in changes.items():
        if value is not None:
            setattr(agent, name, value)
    await session.flush()
    record(session, "agent.updated", {"agent_id": agent.id})
    if reason is not None:
        access_changed(session, [agent.id], reason=reason)
    return agent


async def _free_extension(
    session: AsyncSession, extension: str | None, agent_id: int
) -> str | None:
    """The extension, unless another agent has it (one phone pops one desktop)."""
    if not extension:
        return None
    holder = await repository.agent_with_extension(session, extension)
    if holder is not None and holder.id != agent_id:
        raise Conflict("another agent has this extension", code="extension_taken")
    return extension


async def get_agent_or_raise(session: AsyncSession, agent_id: int) -> Agent:
    agent = await repository.get_agent(session, agent_id)
    if agent is None:
        raise NotFound("agent not found")
    return agent


def _limit_key(kind: str, *parts: str) -> str:
    # Hashed: e-mail addresses are longer than the key column, and need not be stored.
    return f"login:{kind}:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class LoginAttempt:
    """What start_login read, for finish_login once the password is checked."""

    email: str
    ip: str
    now: float
    agent_id: int | None
    password_hash: str | None

    @property
    def pair(self) -> str:
        return _limit_key("pair", self.email, self.ip)

    @property
    def account(self) -> str:
        return _limit_key("account", self.email)


async def start_login(
    session: AsyncSession, email: str, *, ip: str, limits: Settings, now: float | None = None
) -> LoginAttempt:
    """Count a login attempt against its IP and refuse locked-out accounts (TooManyRequests).

    The caller commits before finish_login: argon2 must not run inside a transaction (an
    SQLite one holds the write lock), and the attempt counts even if the request dies."""
    email = email.strip().lower()
    moment = time.time() if now is None else now
    wait = await ratelimit.take(
        session, _limit_key("ip", ip), limit=limits.login_ip_per_minute, now=moment
    )
    if wait:
        raise TooManyRequests(
            "too many login attempts", retry_after=wait, code="login_rate_limited"
        )
    attempt = LoginAttempt(email, ip, moment, None, None)
    for key, period, limit in (
        (attempt.pair, PAIR_WINDOW, limits.login_pair_failures),
        (attempt.account, ACCOUNT_WINDOW, limits.login_account_failures),
    ):
        if await ratelimit.used(session, key, now=moment, period=period) >= limit:
            raise TooManyRequests(
                "too many failed logins, try again later",
                retry_after=ratelimit.retry_after(now=moment, period=period),
                code="login_locked",
            )
    agent = await repository.get_agent_by_email(session, email)
    if agent is None or not agent.active:
        return attempt
    return LoginAttempt(email, ip, moment, agent.id, agent.password_hash)


async def finish_login(
    session: AsyncSession, attempt: LoginAttempt, password: str, *, limits: Settings
) -> Agent:
    """Check the password (in the password threads, before this session opens a transaction)
    and return the agent, or count and audit the failure and raise BadCredentials: the same
    for an unknown e-mail, a wrong password and a deactivated agent, after the same work."""
    matched = await check_password(password, attempt.password_hash, limits.password_cost)
    if matched and attempt.agent_id is not None:
        agent = await repository.get_agent(session, attempt.agent_id)
        if agent is not None and agent.active:
            await ratelimit.reset(session, attempt.pair)
            return agent
    raise BadCredentials(await _count_failure(session, attempt, limits))


async def _count_failure(session: AsyncSession, attempt: LoginAttempt, limits: Settings) -> float:
    """Count and audit a failed login; return how long to wait before answering."""
    moment, pair, account = attempt.now, attempt.pair, attempt.account
    await ratelimit.take(
        session, pair, limit=limits.login_pair_failures, now=moment, period=PAIR_WINDOW
    )
    await ratelimit.take(
        session, account, limit=limits.login_account_failures, now=moment, period=ACCOUNT_WINDOW
    )
    failures = await ratelimit.used(session, pair, now=moment, period=PAIR_WINDOW)
    who = {"agent_id": attempt.agent_id, "ip": attempt.ip}
    record(session, LOGIN_FAILED, {**who, "failures": failures})
    for key, period, limit, scope in (
        (pair, PAIR_WINDOW, limits.login_pair_failures, "account_ip"),
        (account, ACCOUNT_WINDOW, limits.login_account_failures, "account"),
    ):
        if await ratelimit.used(session, key, now=moment, period=period) == limit:
            until = moment + ratelimit.retry_after(now=moment, period=period)
            record(session, LOCKED_OUT, {**who, "scope": scope, "until": round(until)})
    # No wait for the first two slips; then base, 2 x base, ... (the lockout comes next).
    if failures <= 2:
        return 0.0
    return min(MAX_DELAY, limits.login_delay_seconds * 2 ** (failures - 3))


async def issue_token(
    session: AsyncSession, agent: Agent, *, kind: str = "api", name: str = "api"
) -> str:
    """Create a bearer token (or browser session) and return it; only its digest is stored."""
    token = new_token({"session": "fds", "invite": "fdi"}.get(kind, "fd"))
    expires = {"session": utcnow() + SESSION_LIFETIME, "invite": utcnow() + INVITATION_LIFETIME}
    session.add(
        ApiToken(
            agent_id=agent.id, digest=token_digest(token), kind=kind, name=name,
            expires_at=expires.get(kind), prefix=token[:TOKEN_PREFIX],
        )
    )  # fmt: skip
    await session.flush()
    return token


async def agent_for_token(session: AsyncSession, token: str, *, kind: str = "api") -> Agent | None:
    """The active agent a live token of this kind belongs to: `api` for bearer tokens,
    `session` for the desktop's cookie (a session is never a bearer token, nor the reverse)."""
    return await repository.get_agent_by_token(session, token_digest(token), utcnow(), kind=kind)


async def revoke_token(session: AsyncSession, token: str) -> None:
    """End a token or session; sockets opened with it close after commit."""
    digest = token_digest(token)
    owner = await repository.get_token_owner(session, digest)
    await repository.delete_token(session, digest)
    if owner is not None:
        access_changed(session, [owner], reason="revoked")


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
        before = set(await repository.team_member_ids(session, team.id))
        await repository.set_team_members(session, team.id, data.agent_ids)
        # Who left stops seeing the team's inboxes at once; who joined starts to.
        access_changed(session, before ^ set(data.agent_ids), reason="teams_changed")
    await session.flush()
    record(session, "team.updated", {"team_id": team.id})
    return await read_team(session, team)


async def teams_inboxes_changed(session: AsyncSession, team_ids: Iterable[int]) -> None:
    """These teams gained or lost an inbox: their members' open sockets re-read what they see."""
    members: set[int] = set()
    for team_id in set(team_ids):
        members.update(await repository.team_member_ids(session, team_id))
    access_changed(session, members, reason="teams_changed")


async def get_team_or_raise(session: AsyncSession, team_id: int) -> Team:
    team = await repository.get_team(session, team_id)
    if team is None:
        raise NotFound("team not found")
    return team


async def read_team(session: AsyncSession, team: Team) -> TeamRead:
    return TeamRead(
        id=team.id, name=team.name, agent_ids=await repository.team_member_ids(session, team.id)
    )


def password_problem(password: str, *, email: str, name: str = "") -> str | None:
    """Why a chosen password is too weak (None if it is acceptable): at least MIN_PASSWORD
    characters, more than three different ones, not a common password, and not the
    agent's e-mail address or name."""
    lowered = password.lower()
    if len(password) < MIN_PASSWORD:
        return "too_short"
    if len(set(password)) <= 3 or lowered in COMMON_PASSWORDS:
        return "too_common"
    local = email.split("@", 1)[0].lower()
    parts = [local, email.lower(), name.strip().lower()]
    if any(part and len(part) >= 4 and part in lowered for part in parts):
        return "too_personal"
    return None


def check_strength(password: str, *, email: str, name: str = "") -> None:
    """Refuse a weak password (Invalid, code weak_password; `details` names why)."""
    problem = password_problem(password, email=email, name=name)
    if problem is not None:
        raise Invalid(
            f"password is too weak ({problem}): use at least {MIN_PASSWORD} characters that "
            "are not your name, your e-mail address or a common password",
            code="weak_password",
            details=[{"loc": ["password"], "msg": problem}],
        )


async def invite_agent(
    session: AsyncSession, data: AgentInvite, *, cost: PasswordCost = RECOMMENDED
) -> tuple[Agent, str, datetime]:
    """Create an agent who cannot log in until they choose a password through the returned
    invitation token (valid INVITATION_LIFETIME; only its digest is stored)."""
    unusable = new_token("unusable")  # nobody knows it: the agent has no password yet
    agent = await create_agent(
        session,
        AgentCreate(
            email=data.email, name=data.name, password=unusable, role=data.role,
            language=data.language,
        ),
        cost=cost,
    )  # fmt: skip
    token = await issue_token(session, agent, kind="invite", name="invitation")
    record(session, "agent.invited", {"agent_id": agent.id})
    return agent, token, utcnow() + INVITATION_LIFETIME


async def reinvite(session: AsyncSession, agent: Agent) -> tuple[str, datetime]:
    """A new invitation link for an agent (the previous ones stop working)."""
    await repository.delete_agent_tokens_of_kind(session, agent.id, "invite")
    token = await issue_token(session, agent, kind="invite", name="invitation")
    record(session, "agent.invited", {"agent_id": agent.id})
    return token, utcnow() + INVITATION_LIFETIME


async def invited_agent(session: AsyncSession, token: str) -> Agent | None:
    """The active agent a live invitation token belongs to."""
    return await agent_for_token(session, token, kind="invite")


async def accept_invitation(
    session: AsyncSession, agent: Agent, password: str, *, cost: PasswordCost = RECOMMENDED
) -> Agent:
    """Set the invited agent's first password; every invitation of theirs ends. The caller
    commits first: argon2 runs outside any transaction."""
    check_strength(password, email=agent.email, name=agent.name)
    agent.password_hash = await hash_password_async(password, cost)
    await repository.delete_agent_tokens_of_kind(session, agent.id, "invite")
    await session.flush()
    record(session, "agent.invitation_accepted", {"agent_id": agent.id})
    return agent


async def update_profile(session: AsyncSession, agent: Agent, data: ProfileUpdate) -> Agent:
    """An agent's own name, language and e-mail signature."""
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(agent, name, value.strip() if name == "signature" else value)
    await session.flush()
    record(session, "agent.updated", {"agent_id": agent.id})
    return agent


async def verify_current_password(
    agent: Agent, data: PasswordChange, *, cost: PasswordCost = RECOMMENDED
) -> None:
    """Refuse a password change without the right current password, or to a weak one.
    Runs outside any transaction (argon2)."""
    if not await check_password(data.current_password, agent.password_hash, cost):
        raise Invalid("the current password is wrong", code="wrong_password",
                      details=[{"loc": ["current_password"], "msg": "wrong"}])  # fmt: skip
    check_strength(data.new_password, email=agent.email, name=agent.name)


async def change_password(
    session: AsyncSession, agent: Agent, data: PasswordChange, *, keep_token: str | None,
    cost: PasswordCost = RECOMMENDED,
) -> Agent:  # fmt: skip
    """An agent's own password change (verify_current_password first): every other session
    and token of theirs ends, the one of this request stays."""
    return await update_agent(
        session, agent, AgentUpdate(password=data.new_password), keep_token=keep_token, cost=cost
    )


async def list_tokens(session: AsyncSession, agent: Agent) -> list[ApiToken]:
    """The agent's bearer tokens (not browser sessions or invitations), newest first."""
    return list(await repository.list_tokens(session, agent.id, kind="api"))


async def revoke_token_by_id(session: AsyncSession, agent: Agent, token_id: int) -> None:
    """End one of the agent's own bearer tokens (NotFound for anyone else's)."""
    row = await repository.get_token(session, token_id)
    if row is None or row.agent_id != agent.id or row.kind != "api":
        raise NotFound("token not found")
    await repository.delete_token(session, row.digest)
    access_changed(session, [agent.id], reason="revoked")


async def token_use_stale(session: AsyncSession, token: str) -> bool:
    """Whether a bearer token's last-use stamp is older than TOKEN_USE_GRAIN (a read only:
    `note_token_use` stamps it)."""
    now = utcnow()
    return await repository.token_use_stale(session, token_digest(token), now - TOKEN_USE_GRAIN)


async def note_token_use(session: AsyncSession, token: str) -> bool:
    """Stamp a bearer token's last use if the stamp is older than TOKEN_USE_GRAIN; True if
    it wrote (the caller commits)."""
    now = utcnow()
    return await repository.touch_token(session, token_digest(token), now, now - TOKEN_USE_GRAIN)
