"""The bot's rules: on each customer message of an inbox with the bot, answer with the
knowledge base's article (knowledge.search.answer, exactly its decision) and ask whether it
helped; hand off to a person when it does not know, when asked for a person, or after two
failed answers. It never speaks again once it handed off or an agent answered."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.bot import repository
from frontdesk.bot.models import BotConversation, BotInbox
from frontdesk.bot.phrases import asks_for_person, detect_language, verdict
from frontdesk.bot.schemas import (
    ArticleShown,
    BotSettingsRead,
    BotSettingsWrite,
    HandoffRead,
    IntentTried,
)
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Conversation
from frontdesk.conversations.schemas import InteractiveSend, ReplyButton, ReplyCreate
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.kit.errors import FrontdeskError, NotFound
from frontdesk.kit.events import record
from frontdesk.kit.i18n import translator
from frontdesk.knowledge import repository as knowledge_repository
from frontdesk.knowledge import search as knowledge_search
from frontdesk.knowledge import service as knowledge
from frontdesk.knowledge.markdown import plain_text
from frontdesk.knowledge.schemas import FeedbackCreate
from frontdesk.routing import dispatch, placing
from frontdesk.routing import repository as routing_repository

log = logging.getLogger(__name__)

# Failed answers ("did not help") before the bot hands off.
MAX_FAILURES = 2
# An article longer than this is cut (with "…") in a chat reply; the help centre has the rest.
MAX_ANSWER_CHARS = 1500
# The customer's words kept in the hand-off context (the newest).
MAX_WORDS = 20
ASK = "Did that answer your question?"
ASK_BY_TEXT = "Did that answer your question? Reply yes or no."
GLAD = "I am glad that helped. Write again if you need anything else."
RETRY = "Sorry that did not help. Could you ask in other words?"
HANDOFF_TEXT = {
    "low_confidence": "I don't know the answer to that. I am passing your question to a "
    "colleague, who will reply here.",
    "asked_for_person": "I am passing you to a colleague, who will reply here.",
    "failed_answers": "I could not solve this, so I am passing you to a colleague, who will "
    "reply here.",
    "no_text": "I can only read text. I am passing your message to a colleague, who will reply "
    "here.",
}
BOT_STRINGS = (ASK, ASK_BY_TEXT, GLAD, RETRY, *HANDOFF_TEXT.values())


# --- Settings ------------------------------------------------------------------------------


def read_settings(inbox_id: int, bot: BotInbox | None, *, default: float) -> BotSettingsRead:
    """`default`: the knowledge base's threshold now (knowledge.search.answer_threshold:
    the trained intent head's decision point, else the embedder's)."""
    return BotSettingsRead(
        inbox_id=inbox_id,
        enabled=bool(bot and bot.enabled),
        threshold=bot.threshold if bot else None,
        default_threshold=default,
    )


async def get_settings(session: AsyncSession, inbox_id: int) -> BotSettingsRead:
    return read_settings(
        inbox_id,
        await repository.get_inbox_bot(session, inbox_id),
        default=await knowledge_search.answer_threshold(session),
    )


async def set_settings(
    session: AsyncSession, inbox_id: int, data: BotSettingsWrite
) -> BotSettingsRead:
    """Turn the bot on or off on an inbox (and set its threshold)."""
    bot = await repository.get_inbox_bot(session, inbox_id)
    if bot is None:
        bot = BotInbox(inbox_id=inbox_id)
        session.add(bot)
    bot.enabled = data.enabled
    bot.threshold = data.threshold
    bot.updated_at = utcnow()
    await session.flush()
    return read_settings(inbox_id, bot, default=await knowledge_search.answer_threshold(session))


async def holds(session: AsyncSession, conversation: Conversation) -> bool:
    """Whether the bot is (or is about to be) talking with the customer: a person is not
    needed yet."""
    bot = await repository.get_inbox_bot(session, conversation.inbox_id)
    if bot is None or not bot.enabled or conversation.assignee_id is not None:
        return False
    dialogue = await repository.get_dialogue(session, conversation.id)
    return dialogue is None or dialogue.status == "active"


# --- The dialogue --------------------------------------------------------------------------


async def on_customer_message(
    session: AsyncSession, *, conversation_id: int, message_id: int
) -> None:
    """Answer one customer message (idempotent: a message already dealt with is skipped)."""
    conversation = await conversations_repository.get_conversation(session, conversation_id)
    if conversation is None:
        return
    bot = await repository.get_inbox_bot(session, conversation.inbox_id)
    if bot is None or not bot.enabled:
        return
    dialogue = await repository.lock_dialogue(session, conversation.id)
    if dialogue is None:
        dialogue = BotConversation(
            conversation_id=conversation.id, status="active",
            language=conversation.language or "en", failures=0, last_message_id=0,
            context={"intents": [], "articles": [], "words": []},
        )  # fmt: skip
        session.add(dialogue)
        await session.flush()
    if dialogue.status != "active" or message_id <= dialogue.last_message_id:
        return
    dialogue.last_message_id = message_id
    dialogue.updated_at = utcnow()
    if conversation.assignee_id is not None or await repository.agent_replied(
        session, conversation.id
    ):
        dialogue.status = "stopped"  # a person has the conversation: the bot keeps quiet
        return
    message = await conversations_repository.get_message(session, message_id)
    if message is None or message.conversation_id != conversation.id or message.kind != "message":
        return
    if not (message.text or "").strip():
        # Only attachments (a photo, a voice note): nothing the bot can search with, so a
        # person looks at it; an empty line is not added to the customer's words.
        await hand_off(session, conversation, dialogue, reason="no_text")
        return
    await _converse(session, conversation, dialogue, bot, message.text or "")


async def _converse(
    session: AsyncSession,
    conversation: Conversation,
    dialogue: BotConversation,
    bot: BotInbox,
    text: str,
) -> None:
    dialogue.language = detect_language(text, fallback=dialogue.language)
    _update(dialogue, words=[*dialogue.context.get("words", []), text][-MAX_WORDS:])
    if asks_for_person(text):
        await hand_off(session, conversation, dialogue, reason="asked_for_person")
        return
    if dialogue.awaiting_article_id is not None:
        said = verdict(text)
        article_id, dialogue.awaiting_article_id = dialogue.awaiting_article_id, None
        if said is not None:
            await _record_verdict(session, dialogue, article_id, helpful=said == "yes")
            if said == "yes":
                await _say(session, conversation, dialogue, GLAD)
                return
            dialogue.failures += 1
            if dialogue.failures >= MAX_FAILURES:
                await hand_off(session, conversation, dialogue, reason="failed_answers")
            else:
                await _say(session, conversation, dialogue, RETRY)
            return
    elif verdict(text) is not None:
        return  # a bare "yes", "no" or "thanks" with no question open: nothing to answer
    await _answer(session, conversation, dialogue, bot, text)


async def _answer(
    session: AsyncSession,
    conversation: Conversation,
    dialogue: BotConversation,
    bot: BotInbox,
    text: str,
) -> None:
    # None: the knowledge base's threshold for its embedder.
    result = await knowledge_search.answer(
        session, text, language=dialogue.language, threshold=bot.threshold
    )
    top = result.candidates[0] if result.candidates else None
    tried = IntentTried(
        text=text,
        article_id=top.article_id if top else None,
        title=top.title if top else None,
        confidence=top.confidence if top else 0.0,
        answered=result.answer is not None,
    )
    _update(dialogue, intents=[*dialogue.context.get("intents", []), tried.model_dump()])
    if result.answer is None:
        await knowledge.record_miss(session, text, language=dialogue.language, source="bot")
        await hand_off(session, conversation, dialogue, reason="low_confidence")
        return
    failed = {
        a["article_id"]
        for a in dialogue.context.get("articles", [])
        if a["verdict"] == "not_helpful"
    }
    if result.answer.article_id in failed:  # never the article that already failed
        await hand_off(session, conversation, dialogue, reason="failed_answers")
        return
    translation = await knowledge_repository.get_translation(
        session, result.answer.article_id, result.answer.language
    )
    if translation is None:  # deleted since the index was read
        await hand_off(session, conversation, dialogue, reason="low_confidence")
        return
    body = plain_text(translation.html)
    if len(body) > MAX_ANSWER_CHARS:
        body = body[:MAX_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
    shown = ArticleShown(
        article_id=translation.article_id,
        language=translation.language,
        title=translation.title,
        verdict=None,
    )
    _update(dialogue, articles=[*dialogue.context.get("articles", []), shown.model_dump()])
    sent = await _send_article(
        session, conversation, dialogue, f"{translation.title}\n\n{body}", shown
    )
    if sent:
        dialogue.awaiting_article_id = translation.article_id
    else:
        await hand_off(session, conversation, dialogue, reason="low_confidence", say=False)


async def _send_article(
    session: AsyncSession,
    conversation: Conversation,
    dialogue: BotConversation,
    answer: str,
    shown: ArticleShown,
) -> bool:
    _ = translator(dialogue.language)
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    buttons = inbox is not None and inbox.channel == "webchat"
    data = ReplyCreate(
        text=f"{answer}\n\n{_(ASK if buttons else ASK_BY_TEXT)}",
        interactive=InteractiveSend(
            buttons=[ReplyButton(id="yes", title=_("Yes")), ReplyButton(id="no", title=_("No"))]
        )
        if buttons
        else None,
    )
    meta = {"kb_article_id": shown.article_id, "kb_language": shown.language}
    return await _reply(session, conversation, data, meta)


async def _say(
    session: AsyncSession, conversation: Conversation, dialogue: BotConversation, text: str
) -> bool:
    return await _reply(
        session, conversation, ReplyCreate(text=translator(dialogue.language)(text)), {}
    )


async def _reply(
    session: AsyncSession, conversation: Conversation, data: ReplyCreate, meta: dict[str, Any]
) -> bool:
    """Send as the bot; a channel that refuses (closed window, no address) only means the
    bot stays silent, never that the customer's message is lost."""
    # reply() checks everything (inbox, window, opt-out, address) before it writes.
    try:
        await conversations.reply(
            session, conversation, author=None, data=data, author_kind="bot",
            meta={"automated": True, **meta},
        )  # fmt: skip
    except FrontdeskError as exc:
        log.info("bot reply in conversation %s refused: %s", conversation.id, exc)
        return False
    return True


async def _record_verdict(
    session: AsyncSession, dialogue: BotConversation, article_id: int, *, helpful: bool
) -> None:
    articles = [dict(a) for a in dialogue.context.get("articles", [])]
    language = dialogue.language
    for item in reversed(articles):
        if item["article_id"] == article_id and item["verdict"] is None:
            item["verdict"] = "helpful" if helpful else "not_helpful"
            language = item["language"]
            break
    _update(dialogue, articles=articles)
    try:  # the article's own feedback counts the bot's answers too
        article = await knowledge.get_or_raise(session, article_id, statuses=knowledge.PUBLIC)
        await knowledge.add_feedback(
            session, article, FeedbackCreate(language=language, helpful=helpful, comment=None)
        )
    except NotFound:
        pass  # unpublished or deleted since it was shown


async def hand_off(
    session: AsyncSession,
    conversation: Conversation,
    dialogue: BotConversation,
    *,
    reason: str,
    say: bool = True,
) -> None:
    """Pass the conversation to a person with what the bot learned: it becomes unassigned
    and open (a routing task when routing is set up), and the bot says so honestly."""
    dialogue.status = "handed_off"
    dialogue.awaiting_article_id = None
    dialogue.handed_off_at = utcnow()
    _update(dialogue, reason=reason)
    if say:
        await _say(session, conversation, dialogue, HANDOFF_TEXT[reason])
    conversation.assignee_id = None
    conversation.updated_at = utcnow()
    record(
        session,
        "bot.handed_off",
        {"conversation_id": conversation.id, "reason": reason, "language": dialogue.language},
        inbox_id=conversation.inbox_id,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
    )
    if conversation.status == "open" and await routing_repository.any_policy(session):
        inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
        made = await placing.task_for_conversation(
            session, conversation, channel=inbox.channel if inbox else "chat", reopened=False
        )
        if made is not None:
            await dispatch.route(session)


def _update(dialogue: BotConversation, **changes: Any) -> None:
    # A new dict: the JSON column sees the change.
    dialogue.context = {**dialogue.context, **changes}


def handoff_read(dialogue: BotConversation) -> HandoffRead:
    context = dialogue.context
    return HandoffRead(
        conversation_id=dialogue.conversation_id,
        status=dialogue.status,  # type: ignore[arg-type]
        reason=context.get("reason"),
        language=dialogue.language,
        intents=[IntentTried.model_validate(i) for i in context.get("intents", [])],
        articles=[ArticleShown.model_validate(a) for a in context.get("articles", [])],
        words=list(context.get("words", [])),
        handed_off_at=dialogue.handed_off_at,
    )


async def handoff(session: AsyncSession, conversation: Conversation) -> HandoffRead:
    """The bot's dialogue with the conversation; NotFound when the bot never took part."""
    dialogue = await repository.get_dialogue(session, conversation.id)
    if dialogue is None:
        raise NotFound("the bot has not talked in this conversation", code="no_bot_dialogue")
    return handoff_read(dialogue)
