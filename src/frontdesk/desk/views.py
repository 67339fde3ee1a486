"""The agent's own @mentions: list, unread count, mark read. Only ever the caller's."""

from __future__ import annotations

from fastapi import APIRouter, Response

from frontdesk.deps import CurrentAgent, SessionDep
from frontdesk.desk import service
from frontdesk.desk.schemas import MentionRead
from frontdesk.kit import uow
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id

router = APIRouter(tags=["mentions"])


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
