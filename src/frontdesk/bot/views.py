"""Bot API: its settings per inbox (admins), and for agents the hand-off context and the
articles agent assist suggests for a conversation they may see."""

from __future__ import annotations

from fastapi import APIRouter

from frontdesk.bot import assist, service
from frontdesk.bot.schemas import AssistSuggestions, BotSettingsRead, BotSettingsWrite, HandoffRead
from frontdesk.conversations import service as conversations
from frontdesk.deps import AdminAgent, CurrentAgent, SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import openapi, uow
from frontdesk.kit.errors import NotFound
from frontdesk.kit.schemas import Id

router = APIRouter(tags=["bot"])


async def _inbox_exists(session: SessionDep, inbox_id: int) -> None:
    if await inboxes_repository.get_inbox(session, inbox_id) is None:
        raise NotFound("inbox not found")


@router.get("/inboxes/{inbox_id}/bot", response_model=BotSettingsRead, responses=openapi.errors())
async def get_bot(inbox_id: Id, session: SessionDep, admin: AdminAgent) -> BotSettingsRead:
    await _inbox_exists(session, inbox_id)
    return await service.get_settings(session, inbox_id)


@router.put("/inboxes/{inbox_id}/bot", response_model=BotSettingsRead, responses=openapi.errors())
async def put_bot(
    inbox_id: Id, data: BotSettingsWrite, session: SessionDep, admin: AdminAgent
) -> BotSettingsRead:
    """Turn the bot on or off for the inbox (any channel), with its confidence threshold."""
    await _inbox_exists(session, inbox_id)
    read = await service.set_settings(session, inbox_id, data)
    await uow.commit(session)
    return read


@router.get(
    "/conversations/{conversation_id}/handoff",
    response_model=HandoffRead,
    responses=openapi.errors(),
)
async def get_handoff(conversation_id: Id, session: SessionDep, agent: CurrentAgent) -> HandoffRead:
    """What the bot tried before a person took over (404 when the bot never took part)."""
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    return await service.handoff(session, conversation)


@router.get(
    "/conversations/{conversation_id}/suggestions",
    response_model=AssistSuggestions,
    responses=openapi.errors(),
)
async def get_suggestions(
    conversation_id: Id, session: SessionDep, agent: CurrentAgent
) -> AssistSuggestions:
    """Articles for the customer's recent messages, in their language when one exists, each
    flagged when the customer was already shown it or said it did not help."""
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    return await assist.suggestions(session, conversation)
