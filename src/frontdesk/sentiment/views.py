"""The sentiment rule over HTTP (admins); labels and trends are read on messages and
conversations (conversations/views.py)."""

from __future__ import annotations

from fastapi import APIRouter

from frontdesk.deps import AdminAgent, CurrentAgent, SessionDep
from frontdesk.kit import uow
from frontdesk.sentiment import service
from frontdesk.sentiment.schemas import RuleRead, RuleUpdate

router = APIRouter(tags=["sentiment"])


@router.get("/sentiment/rule", response_model=RuleRead)
async def get_rule(session: SessionDep, agent: CurrentAgent) -> RuleRead:
    return service.read_rule(await service.rule(session))


@router.patch("/sentiment/rule", response_model=RuleRead)
async def update_rule(data: RuleUpdate, session: SessionDep, admin: AdminAgent) -> RuleRead:
    found = await service.update_rule(session, data, by=admin)
    await uow.commit(session)
    return service.read_rule(found)
