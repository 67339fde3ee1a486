"""The bot in the desktop: the hand-off context at the top of a conversation, agent assist
beside the reply box (both htmx partials, refreshed with the timeline), and Settings → Bot
(admins turn the bot on per inbox). Reads go through `conversations.get_or_raise`, which
answers 404 for anything outside the agent's inboxes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from frontdesk.bot import assist
from frontdesk.bot import repository as bot_repository
from frontdesk.bot import service as bot
from frontdesk.bot.schemas import BotSettingsWrite
from frontdesk.conversations import service as conversations
from frontdesk.deps import SessionDep
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit import uow
from frontdesk.kit.errors import NotFound
from frontdesk.kit.i18n import script_direction
from frontdesk.kit.schemas import Id
from frontdesk.knowledge.search import answer_threshold
from frontdesk.web.rendering import PageAgent, check_csrf, render
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)
REASONS = {
    "low_confidence": "The bot did not know the answer.",
    "asked_for_person": "The customer asked for a person.",
    "failed_answers": "Two answers did not help.",
    "no_text": "The customer sent no text (only attachments).",
}
LIST_LIMIT = 1000


@router.get("/conversations/{conversation_id}/handoff", response_class=HTMLResponse)
async def handoff_partial(
    request: Request, conversation_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    dialogue = await bot_repository.get_dialogue(session, conversation.id)
    read_ids = await bot_repository.help_articles_read(session, conversation.id)
    context = {
        "read_first": await assist.read_titles(
            session, read_ids, dialogue.language if dialogue else "en"
        ),
        "handoff": bot.handoff_read(dialogue) if dialogue else None,
        "reasons": REASONS,
        "text_dir": script_direction,
    }
    return render(request, "_bot_handoff.html", context, agent=agent)


@router.get("/conversations/{conversation_id}/assist", response_class=HTMLResponse)
async def assist_partial(
    request: Request, conversation_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    conversation = await conversations.get_or_raise(session, conversation_id, agent=agent)
    found = await assist.suggestions(session, conversation)
    context = {"suggestions": found, "text_dir": script_direction}
    return render(request, "_bot_assist.html", context, agent=agent)


@router.get("/settings/bot", response_class=HTMLResponse)
async def bot_settings_page(
    request: Request, session: SessionDep, admin: AdminPage
) -> HTMLResponse:
    inboxes = await inboxes_repository.list_inboxes(
        session, only=None, after=None, limit=LIST_LIMIT
    )
    bots = {b.inbox_id: b for b in await bot_repository.list_inbox_bots(session)}
    default = await answer_threshold(session)
    rows = [
        {"inbox": i, "bot": bot.read_settings(i.id, bots.get(i.id), default=default)}
        for i in inboxes
    ]
    context = {
        "rows": rows,
        "default_threshold": default,
        "saved": request.query_params.get("saved"),
        "error": request.query_params.get("error"),
    }
    return render(request, "settings_bot.html", context, agent=admin)


@router.post("/settings/bot/{inbox_id}")
async def save_bot_settings(
    request: Request, inbox_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    if await inboxes_repository.get_inbox(session, inbox_id) is None:
        raise NotFound("inbox not found")
    raw = str(form.get("threshold") or "").strip()
    try:
        threshold = float(raw) if raw else None
        data = BotSettingsWrite(enabled=form.get("enabled") == "on", threshold=threshold)
    except ValueError:  # pydantic's ValidationError is one too
        return RedirectResponse(f"/settings/bot?error={inbox_id}", status_code=303)
    await bot.set_settings(session, inbox_id, data)
    await uow.commit(session)
    return RedirectResponse(f"/settings/bot?saved={inbox_id}", status_code=303)
