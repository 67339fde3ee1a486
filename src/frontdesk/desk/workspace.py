"""The workspace's productivity verbs: saved views, macros, bulk changes and the agent's
workspace preferences. Visibility is checked per conversation, as on every single path."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.schemas import ConversationUpdate, ReplyCreate
from frontdesk.customers import repository as customers_repository
from frontdesk.db import utcnow
from frontdesk.desk import repository
from frontdesk.desk.models import Macro, SavedView, WorkspacePreference
from frontdesk.desk.schemas import (
    BulkUpdate,
    MacroCreate,
    MacroRead,
    PreferencesRead,
    PreferencesUpdate,
    SavedViewCreate,
    SavedViewRead,
)
from frontdesk.desk.service import fill_variables
from frontdesk.kit.errors import Forbidden, Invalid, NotFound
from frontdesk.kit.security import token_digest
from frontdesk.routing.service import Presence, presence_of

# What the inbox page reads from its URL; a saved view keeps these and nothing else.
VIEW_PARAMS = (
    "view", "status", "channel", "inbox", "tag", "priority", "q", "team", "agent", "since",
    "until",
)  # fmt: skip


def clean_query(query: str) -> str:
    """The inbox query string with only the parameters the inbox understands, each once."""
    kept: dict[str, str] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key in VIEW_PARAMS and key not in kept:
            kept[key] = value[:200]
    return urlencode(kept)


# --- Saved views ---------------------------------------------------------------------------


async def create_view(session: AsyncSession, agent: Agent, data: SavedViewCreate) -> SavedView:
    """A personal view, or a shared one: with a team of the agent's, or (supervisors and
    admins) with everyone."""
    if data.shared and data.team_id is None and not agent.sees_everything:
        raise Forbidden("only supervisors and admins share views with everyone", code="forbidden")
    if data.team_id is not None and await auth_repository.get_team(session, data.team_id) is None:
        raise Invalid(f"team {data.team_id} does not exist", code="unknown_team")
    if data.team_id is not None and not (
        agent.sees_everything or await repository.is_team_member(session, agent.id, data.team_id)
    ):
        raise Forbidden("views are shared only with a team of yours", code="forbidden")
    row = SavedView(
        owner_id=agent.id,
        name=data.name.strip() or data.name,
        query=clean_query(data.query),
        shared=data.shared or data.team_id is not None,
        team_id=data.team_id,
    )
    session.add(row)
    await session.flush()
    return row


async def list_views(session: AsyncSession, agent: Agent) -> list[SavedViewRead]:
    rows = await repository.list_saved_views(
        session, agent.id, sees_everything=agent.sees_everything
    )
    return [read_view(row) for row in rows]


def read_view(row: SavedView) -> SavedViewRead:
    return SavedViewRead(
        id=row.id,
        name=row.name,
        query=row.query,
        url="/?" + row.query,
        shared=row.shared,
        team_id=row.team_id,
        owner_id=row.owner_id,
    )


async def get_view_or_raise(session: AsyncSession, view_id: int, *, agent: Agent) -> SavedView:
    """A view the agent may see, else NotFound."""
    visible = {v.id for v in await list_views(session, agent)}
    row = await repository.get_saved_view(session, view_id) if view_id in visible else None
    if row is None:
        raise NotFound("saved view not found")
    return row


async def delete_view(session: AsyncSession, row: SavedView, *, agent: Agent) -> None:
    """Owners delete their own; supervisors and admins any shared one."""
    if row.owner_id != agent.id and not agent.sees_everything:
        raise Forbidden("only its owner deletes a view", code="forbidden")
    await session.delete(row)
    await session.flush()


# --- Macros --------------------------------------------------------------------------------


async def create_macro(session: AsyncSession, agent: Agent, data: MacroCreate) -> Macro:
    """A personal macro, or a shared one (admins only)."""
    if data.shared and agent.role != "admin":
        raise Forbidden("only admins manage shared macros", code="forbidden")
    if data.assignee_id is not None:
        assignee = await auth_repository.get_agent(session, data.assignee_id)
        if assignee is None or not assignee.active:
            raise Invalid("assignee is not an active agent", code="invalid_assignee")
    row = Macro(
        owner_id=None if data.shared else agent.id,
        name=data.name.strip() or data.name,
        text=data.text,
        status=data.status,
        priority=data.priority,
        tags=sorted({t.strip() for t in data.tags if t.strip()}),
        assign=data.assign,
        assignee_id=data.assignee_id,
    )
    session.add(row)
    await session.flush()
    return row


async def list_macros(session: AsyncSession, agent: Agent) -> list[MacroRead]:
    return [read_macro(row) for row in await repository.list_macros(session, agent.id)]


def read_macro(row: Macro) -> MacroRead:
    return MacroRead(
        id=row.id,
        name=row.name,
        text=row.text,
        status=row.status,
        priority=row.priority,
        tags=list(row.tags or []),
        assign=row.assign,  # type: ignore[arg-type]
        assignee_id=row.assignee_id,
        shared=row.owner_id is None,
        owner_id=row.owner_id,
    )


async def get_macro_or_raise(session: AsyncSession, macro_id: int, *, agent: Agent) -> Macro:
    row = await repository.get_macro(session, macro_id)
    if row is None or (row.owner_id is not None and row.owner_id != agent.id):
        raise NotFound("macro not found")
    return row


async def delete_macro(session: AsyncSession, row: Macro, *, agent: Agent) -> None:
    """Owners delete their own; shared ones only admins."""
    if row.owner_id is None and agent.role != "admin":
        raise Forbidden("only admins manage shared macros", code="forbidden")
    await session.delete(row)
    await session.flush()


async def apply_macro(
    session: AsyncSession, macro: Macro, conversation: Conversation, *, agent: Agent
) -> Message | None:
    """The macro's reply (variables filled for this customer), then its status, priority,
    tags and assignment, in this transaction: each change an activity event, as by hand."""
    message = None
    if macro.text.strip():
        customer = await customers_repository.get_customer(session, conversation.customer_id)
        identities = await customers_repository.identities_of(session, conversation.customer_id)
        email = next((i.address for i in identities if i.kind == "email"), None)
        text = fill_variables(
            macro.text, customer=customer, agent=agent, conversation=conversation, email=email
        )
        message = await conversations.reply(
            session, conversation, author=agent, data=ReplyCreate(text=text)
        )
    changes: dict[str, object] = {}
    if macro.status:
        changes["status"] = macro.status
    if macro.priority:
        changes["priority"] = macro.priority
    if macro.assign == "me":
        changes["assignee_id"] = agent.id
    elif macro.assign == "unassigned":
        changes["assignee_id"] = None
    elif macro.assign == "agent" and macro.assignee_id is not None:
        changes["assignee_id"] = macro.assignee_id
    if macro.tags:
        have = await conversations_repository.tag_names(session, conversation.id)
        changes["tags"] = [*have, *(t for t in macro.tags if t not in have)]
    if changes:
        await conversations.update(
            session, conversation, ConversationUpdate.model_validate(changes), by=agent
        )
    return message


# --- Bulk ----------------------------------------------------------------------------------


async def bulk_update(session: AsyncSession, agent: Agent, data: BulkUpdate) -> int:
    """One change to many conversations, all or nothing: any conversation the agent may not
    see refuses the whole request (NotFound, as for one), before anything changes."""
    chosen: Sequence[Conversation] = [
        await conversations.get_or_raise(session, conversation_id, agent=agent)
        for conversation_id in dict.fromkeys(data.ids)
    ]
    for conversation in chosen:
        changes: dict[str, object] = {}
        if data.status:
            changes["status"] = data.status
        if data.assignee_id is not None or data.unassign:
            changes["assignee_id"] = data.assignee_id
        if data.add_tag:
            have = await conversations_repository.tag_names(session, conversation.id)
            if data.add_tag.strip() not in have:
                changes["tags"] = [*have, data.add_tag.strip()]
        if changes:
            await conversations.update(
                session, conversation, ConversationUpdate.model_validate(changes), by=agent
            )
    return len(chosen)


# --- Preferences ---------------------------------------------------------------------------


async def desk_agent(session: AsyncSession, token: str) -> tuple[Agent, Presence] | None:
    """The active agent a desktop session cookie belongs to and their presence; their
    preferences come with them (`preferences` then reads nothing)."""
    found = await repository.desk_agent(session, token_digest(token), utcnow(), kind="session")
    if found is None:
        return None
    agent, row = found
    return agent, presence_of(agent.id, row)


async def preferences(session: AsyncSession, agent: Agent) -> PreferencesRead:
    row = await repository.get_preferences(session, agent.id)
    if row is None:
        return PreferencesRead(time_zone="UTC", notify=[], sound=False)
    return PreferencesRead(time_zone=row.time_zone, notify=list(row.notify or []), sound=row.sound)


async def set_preferences(
    session: AsyncSession, agent: Agent, data: PreferencesUpdate
) -> PreferencesRead:
    row = await repository.get_preferences(session, agent.id)
    if row is None:
        row = WorkspacePreference(agent_id=agent.id, time_zone="UTC", notify=[], sound=False)
        session.add(row)
    if data.time_zone is not None:
        row.time_zone = data.time_zone
    if data.notify is not None:
        row.notify = sorted(set(data.notify))
    if data.sound is not None:
        row.sound = data.sound
    await session.flush()
    return PreferencesRead(time_zone=row.time_zone, notify=list(row.notify), sound=row.sound)
