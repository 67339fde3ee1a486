"""Inboxes: admins create, change and deactivate them; agents read those they serve."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from frontdesk.deps import AdminAgent, CurrentAgent, RuntimeDep, SessionDep
from frontdesk.inboxes import repository, service, templates
from frontdesk.inboxes.port import Capabilities, channel_plugins
from frontdesk.inboxes.schemas import (
    ChannelRead,
    ConnectionCheckRead,
    InboxCreate,
    InboxRead,
    InboxUpdate,
    TemplateCreate,
    TemplateRead,
    TemplateUpdate,
)
from frontdesk.kit import uow
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id

router = APIRouter(tags=["inboxes"])


@router.get("/inboxes", response_model=Page[InboxRead])
async def list_inboxes(
    session: SessionDep,
    agent: CurrentAgent,
    runtime: RuntimeDep,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[InboxRead]:
    size = clamp_limit(limit)
    rows = await repository.list_inboxes(
        session,
        only=await service.visible_inbox_ids(session, agent),
        after=decode_cursor(cursor),
        limit=size,
    )
    items = [
        await service.read_inbox(session, row, agent=agent, app=runtime.settings) for row in rows
    ]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == size else None)


@router.post("/inboxes", response_model=InboxRead, status_code=201)
async def create_inbox(
    data: InboxCreate, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> InboxRead:
    inbox = await service.create_inbox(session, data, runtime.settings)
    await uow.commit(session)
    return await service.read_inbox(session, inbox, agent=admin, app=runtime.settings)


@router.get("/inboxes/{inbox_id}", response_model=InboxRead)
async def read_inbox(
    inbox_id: Id, session: SessionDep, agent: CurrentAgent, runtime: RuntimeDep
) -> InboxRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=agent)
    return await service.read_inbox(session, inbox, agent=agent, app=runtime.settings)


@router.patch("/inboxes/{inbox_id}", response_model=InboxRead)
async def update_inbox(
    inbox_id: Id, data: InboxUpdate, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> InboxRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await service.update_inbox(session, inbox, data, runtime.settings)
    await uow.commit(session)
    runtime.inboxes.forget(inbox.id)
    return await service.read_inbox(session, inbox, agent=admin, app=runtime.settings)


@router.delete("/inboxes/{inbox_id}", status_code=204)
async def delete_inbox(
    inbox_id: Id, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> None:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await service.deactivate_inbox(session, inbox)
    await uow.commit(session)
    runtime.inboxes.forget(inbox.id)


@router.post(
    "/inboxes/{inbox_id}/check",
    response_model=ConnectionCheckRead,
    responses={403: {}, 404: {}, 422: {}},
)
async def check_connection(
    inbox_id: Id, session: SessionDep, admin: AdminAgent, runtime: RuntimeDep
) -> ConnectionCheckRead:
    """Test connection: one harmless call to the provider with the inbox's credentials. A
    refusal answers 422 provider_refused naming the provider's words; a channel with no
    credential to try answers `checked: false`."""
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    await uow.end_read(session)
    return await service.check_connection(inbox, runtime.settings)


@router.get("/inboxes/{inbox_id}/templates", response_model=list[TemplateRead])
async def list_templates(
    inbox_id: Id, session: SessionDep, agent: CurrentAgent
) -> list[TemplateRead]:
    """The inbox's message templates (agents who serve it pick from these)."""
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=agent)
    return [templates.read(t) for t in await repository.list_templates(session, inbox.id)]


@router.post("/inboxes/{inbox_id}/templates", response_model=TemplateRead, status_code=201)
async def create_template(
    inbox_id: Id, data: TemplateCreate, session: SessionDep, admin: AdminAgent
) -> TemplateRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    template = await templates.create_template(session, inbox, data)
    await uow.commit(session)
    return templates.read(template)


@router.patch("/inboxes/{inbox_id}/templates/{template_id}", response_model=TemplateRead)
async def update_template(
    inbox_id: Id, template_id: Id, data: TemplateUpdate, session: SessionDep, admin: AdminAgent
) -> TemplateRead:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    template = await templates.get_template_or_raise(session, inbox, template_id)
    await templates.update_template(session, template, data)
    await uow.commit(session)
    return templates.read(template)


@router.delete("/inboxes/{inbox_id}/templates/{template_id}", status_code=204)
async def delete_template(
    inbox_id: Id, template_id: Id, session: SessionDep, admin: AdminAgent
) -> None:
    inbox = await service.get_inbox_or_raise(session, inbox_id, agent=admin)
    template = await templates.get_template_or_raise(session, inbox, template_id)
    await templates.delete_template(session, template)
    await uow.commit(session)


@router.get("/channels", response_model=list[ChannelRead])
async def list_channels(agent: CurrentAgent) -> list[ChannelRead]:
    """The installed channels: what each can carry and the settings its inboxes take."""
    return [
        ChannelRead(
            name=plugin.name,
            capabilities=_capabilities(plugin.adapter.capabilities),
            settings_schema=(
                plugin.settings_schema.model_json_schema() if plugin.settings_schema else None
            ),
        )
        for plugin in channel_plugins()
    ]


def _capabilities(capabilities: Capabilities) -> dict[str, Any]:
    fields = asdict(capabilities)
    window = capabilities.reply_window
    fields["reply_window"] = int(window.total_seconds()) if window is not None else None
    return fields
