"""The agent's own @mentions (list, unread count, mark read; only ever the caller's), saved
views, macros, bulk changes and workspace preferences."""

from __future__ import annotations

from fastapi import APIRouter, Response

from frontdesk.conversations import service as conversations
from frontdesk.deps import CurrentAgent, SessionDep
from frontdesk.desk import service, workspace
from frontdesk.desk.schemas import (
    BulkResult,
    BulkUpdate,
    MacroApplied,
    MacroCreate,
    MacroRead,
    MentionRead,
    PreferencesRead,
    PreferencesUpdate,
    SavedViewCreate,
    SavedViewRead,
)
from frontdesk.kit import uow
from frontdesk.kit.openapi import errors
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id, RequestBody

router = APIRouter(tags=["mentions"])
workspace_router = APIRouter(tags=["workspace"])


@router.get("/me/mentions", response_model=Page[MentionRead])
async def list_mentions(
    session: SessionDep,
    agent: CurrentAgent,
    unread: bool = False,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[MentionRead]:
    """Notes that @mention the caller, newest first (`unread=true`: only unread ones)."""
    size = clamp_limit(limit)
    items = await service.list_mentions(
        session, agent, unread_only=unread, before=decode_cursor(cursor), limit=size
    )
    return Page(
        items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == size else None
    )


@router.post("/me/mentions/{mention_id}/read", status_code=204, response_class=Response)
async def read_mention(mention_id: Id, session: SessionDep, agent: CurrentAgent) -> Response:
    await service.mark_mention_read(session, agent, mention_id)
    await uow.commit(session)
    return Response(status_code=204)


@router.post("/me/mentions/read")
async def read_all_mentions(session: SessionDep, agent: CurrentAgent) -> dict[str, int]:
    """Mark every unread mention of the caller read; answers how many were."""
    marked = await service.mark_mentions_read(session, agent)
    await uow.commit(session)
    return {"marked": marked}


class MacroApply(RequestBody):
    conversation_id: Id


@workspace_router.get("/saved-views", response_model=list[SavedViewRead])
async def list_saved_views(session: SessionDep, agent: CurrentAgent) -> list[SavedViewRead]:
    """The caller's views and the views shared with them (everyone's, or their team's)."""
    return await workspace.list_views(session, agent)


@workspace_router.post(
    "/saved-views", response_model=SavedViewRead, status_code=201, responses=errors(403)
)
async def create_saved_view(
    data: SavedViewCreate, session: SessionDep, agent: CurrentAgent
) -> SavedViewRead:
    row = await workspace.create_view(session, agent, data)
    await uow.commit(session)
    return workspace.read_view(row)


@workspace_router.delete(
    "/saved-views/{view_id}", status_code=204, response_class=Response, responses=errors(403)
)
async def delete_saved_view(view_id: Id, session: SessionDep, agent: CurrentAgent) -> Response:
    row = await workspace.get_view_or_raise(session, view_id, agent=agent)
    await workspace.delete_view(session, row, agent=agent)
    await uow.commit(session)
    return Response(status_code=204)


@workspace_router.get("/macros", response_model=list[MacroRead])
async def list_macros(session: SessionDep, agent: CurrentAgent) -> list[MacroRead]:
    """Shared macros and the caller's own."""
    return await workspace.list_macros(session, agent)


@workspace_router.post("/macros", response_model=MacroRead, status_code=201, responses=errors(403))
async def create_macro(data: MacroCreate, session: SessionDep, agent: CurrentAgent) -> MacroRead:
    row = await workspace.create_macro(session, agent, data)
    await uow.commit(session)
    return workspace.read_macro(row)


@workspace_router.delete(
    "/macros/{macro_id}", status_code=204, response_class=Response, responses=errors(403)
)
async def delete_macro(macro_id: Id, session: SessionDep, agent: CurrentAgent) -> Response:
    row = await workspace.get_macro_or_raise(session, macro_id, agent=agent)
    await workspace.delete_macro(session, row, agent=agent)
    await uow.commit(session)
    return Response(status_code=204)


@workspace_router.post("/macros/{macro_id}/apply", response_model=MacroApplied)
async def apply_macro(
    macro_id: Id, data: MacroApply, session: SessionDep, agent: CurrentAgent
) -> MacroApplied:
    """Apply a macro to a conversation the caller may see: its reply, status, tags, assignee."""
    macro = await workspace.get_macro_or_raise(session, macro_id, agent=agent)
    conversation = await conversations.get_or_raise(session, data.conversation_id, agent=agent)
    message = await workspace.apply_macro(session, macro, conversation, agent=agent)
    await uow.commit(session)
    return MacroApplied(conversation_id=conversation.id, message_id=message.id if message else None)


@workspace_router.post("/conversations/bulk", response_model=BulkResult, responses=errors(404))
async def bulk_update(data: BulkUpdate, session: SessionDep, agent: CurrentAgent) -> BulkResult:
    """Assign, set a status or add a tag on up to 100 conversations at once; all or nothing
    (a conversation the caller may not see answers 404 and nothing changes)."""
    updated = await workspace.bulk_update(session, agent, data)
    await uow.commit(session)
    return BulkResult(updated=updated)


@workspace_router.get("/me/preferences", response_model=PreferencesRead)
async def get_preferences(session: SessionDep, agent: CurrentAgent) -> PreferencesRead:
    """The caller's time zone and browser notification choices."""
    return await workspace.preferences(session, agent)


@workspace_router.patch("/me/preferences", response_model=PreferencesRead)
async def set_preferences(
    data: PreferencesUpdate, session: SessionDep, agent: CurrentAgent
) -> PreferencesRead:
    read = await workspace.set_preferences(session, agent, data)
    await uow.commit(session)
    return read
