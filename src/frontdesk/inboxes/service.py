"""Inboxes: the only writers of inbox rows."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth import service as auth_service
from frontdesk.auth.models import Agent
from frontdesk.config import Settings
from frontdesk.inboxes import port, repository
from frontdesk.inboxes import secrets as sealed
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import adapter_for, webhook_url
from frontdesk.inboxes.schemas import ConnectionCheckRead, InboxCreate, InboxRead, InboxUpdate
from frontdesk.kit.errors import Invalid, NotFound
from frontdesk.kit.events import record


async def visible_inbox_ids(session: AsyncSession, agent: Agent) -> set[int] | None:
    """The inboxes an agent may see; None means all (supervisors and admins)."""
    if agent.sees_everything:
        return None
    return await repository.served_inbox_ids(session, agent)


async def _check_teams(session: AsyncSession, team_ids: list[int]) -> None:
    for team_id in set(team_ids):
        if await auth_repository.get_team(session, team_id) is None:
            raise Invalid(f"team {team_id} does not exist", code="unknown_team")


async def create_inbox(session: AsyncSession, data: InboxCreate, app: Settings) -> Inbox:
    """Create an inbox on a channel, with a fresh signing secret."""
    adapter = adapter_for(data.channel)
    raw: dict[str, Any] = dict(data.settings)
    raw.update(
        data.model_dump(include={"webhook_url", "address", "imap", "smtp"}, exclude_none=True)
    )
    await _check_teams(session, data.team_ids)
    inbox = Inbox(
        name=data.name,
        channel=data.channel,
        settings=sealed.seal_settings(data.channel, adapter.validate_settings(raw, app), app),
        secret=secrets.token_hex(32),
        active=True,
    )
    session.add(inbox)
    await session.flush()
    await repository.set_inbox_teams(session, inbox.id, data.team_ids)
    record(session, "inbox.created", {"inbox_id": inbox.id, "channel": inbox.channel})
    return inbox


async def update_inbox(
    session: AsyncSession, inbox: Inbox, data: InboxUpdate, app: Settings
) -> Inbox:
    """Rename, re-team, reconfigure, deactivate or rotate the secret of an inbox."""
    if data.name is not None:
        inbox.name = data.name
    if data.active is not None:
        inbox.active = data.active
    if data.rotate_secret:
        inbox.secret = secrets.token_hex(32)
    changes = _settings_changes(data)
    if changes is not None:
        # Secrets are write-only: one left out (or sent back masked) keeps its stored value.
        current = sealed.editable(inbox, app)
        merged = {**current, **sealed.without_masks(changes, current)}
        validated = adapter_for(inbox.channel).validate_settings(merged, app)
        inbox.settings = sealed.seal_settings(inbox.channel, validated, app)
    if data.team_ids is not None:
        await _check_teams(session, data.team_ids)
        before = set(await repository.inbox_team_ids(session, inbox.id))
        await repository.set_inbox_teams(session, inbox.id, data.team_ids)
        # Members of teams that lost or gained the inbox see the change at once.
        await auth_service.teams_inboxes_changed(session, before ^ set(data.team_ids))
    await session.flush()
    record(session, "inbox.updated", {"inbox_id": inbox.id})
    return inbox


def _settings_changes(data: InboxUpdate) -> dict[str, Any] | None:
    """The settings a PATCH changes: `settings` plus the top-level keys the create route
    takes too (webhook_url, address, imap, smtp); None = settings untouched."""
    top = data.model_dump(include={"webhook_url", "address", "imap", "smtp"}, exclude_none=True)
    if data.settings is None and not top:
        return None
    return {**(data.settings or {}), **top}


async def deactivate_inbox(session: AsyncSession, inbox: Inbox) -> None:
    """Inboxes keep their history: DELETE deactivates (inbound refused, nothing erased)."""
    inbox.active = False
    await session.flush()
    record(session, "inbox.deactivated", {"inbox_id": inbox.id})


async def get_inbox_or_raise(session: AsyncSession, inbox_id: int, *, agent: Agent) -> Inbox:
    inbox = await repository.get_inbox(session, inbox_id)
    visible = await visible_inbox_ids(session, agent)
    if inbox is None or (visible is not None and inbox.id not in visible):
        raise NotFound("inbox not found")
    return inbox


async def read_inbox(
    session: AsyncSession, inbox: Inbox, *, agent: Agent, app: Settings
) -> InboxRead:
    return InboxRead(
        id=inbox.id,
        name=inbox.name,
        channel=inbox.channel,
        active=inbox.active,
        team_ids=await repository.inbox_team_ids(session, inbox.id),
        settings=sealed.redact(inbox.channel, inbox.settings),
        webhook_url=webhook_url(inbox, app),
        created_at=inbox.created_at,
        secret=inbox.secret if agent.role == "admin" else None,
    )


async def check_connection(inbox: Inbox, app: Settings) -> ConnectionCheckRead:
    """Test connection through the inbox's channel (it writes nothing)."""
    found = await port.check_connection(sealed.opened_inbox(inbox, app), app)
    hook = webhook_url(inbox, app)
    return ConnectionCheckRead(
        ok=found.ok,
        checked=found.checked,
        detail=found.detail,
        facts=found.facts,
        webhook_url=hook,
    )
