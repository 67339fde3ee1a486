"""Agent assist: articles for the open conversation, found from the customer's recent
messages, each in the customer's language when it has it, with a warning when the customer
was already shown or sent it (and said it did not help)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.bot import repository
from frontdesk.bot.phrases import detect_language
from frontdesk.bot.schemas import ArticleRead, AssistSuggestion, AssistSuggestions
from frontdesk.conversations.models import Conversation
from frontdesk.knowledge import repository as knowledge_repository
from frontdesk.knowledge import search as knowledge_search
from frontdesk.knowledge import service as knowledge
from frontdesk.knowledge.markdown import plain_text
from frontdesk.knowledge.schemas import SearchHit
from frontdesk.knowledge.search import same_language

# The customer's newest messages that make up the query.
RECENT_MESSAGES = 3
SUGGESTIONS = 5


async def suggestions(
    session: AsyncSession, conversation: Conversation, *, limit: int = SUGGESTIONS
) -> AssistSuggestions:
    """Articles for what the customer wrote lately, best first; the articles that already
    failed this customer are kept in (flagged), so the agent sees not to send them again."""
    texts = await repository.recent_customer_texts(session, conversation.id, limit=RECENT_MESSAGES)
    dialogues = await repository.dialogues_of_customer(session, conversation.customer_id)
    own = next((d for d in dialogues if d.conversation_id == conversation.id), None)
    language = (
        own.language
        if own is not None
        else detect_language(" ".join(texts), fallback=conversation.language or "en")
    )
    shown: set[int] = await repository.article_ids_sent(session, conversation.customer_id)
    failed: set[int] = set()
    for dialogue in dialogues:
        for item in dialogue.context.get("articles", []):
            shown.add(int(item["article_id"]))
            if item.get("verdict") == "not_helpful":
                failed.add(int(item["article_id"]))
    read_first = await repository.help_articles_read(session, conversation.id)
    shown.update(read_first)
    hits = (
        await knowledge_search.search(
            session, " ".join(texts), language=language, statuses=knowledge.STAFF, limit=limit
        )
        if texts
        else []
    )
    items = []
    missing = sorted(failed - {hit.article_id for hit in hits})
    for hit in [*hits, *await _texts(session, missing, language)]:
        translation = await knowledge_repository.get_translation(
            session, hit.article_id, hit.language
        )
        if translation is None:
            continue
        items.append(
            AssistSuggestion(
                article_id=hit.article_id,
                language=hit.language,
                title=hit.title,
                snippet=hit.snippet,
                score=hit.score,
                text=f"{translation.title}\n\n{plain_text(translation.html)}",
                already_shown=hit.article_id in shown,
                did_not_help=hit.article_id in failed,
            )
        )
    read = await read_titles(session, read_first, language)
    return AssistSuggestions(language=language, items=items, read_first=read)


async def _texts(session: AsyncSession, article_ids: list[int], language: str) -> list[SearchHit]:
    """Articles by id as hits, in `language` when they have it (the articles that failed the
    customer but no longer match their words are listed last, so the warning is never lost)."""
    texts = await knowledge_repository.hit_texts(session, article_ids)
    hits = []
    for article_id in article_ids:
        by_language = {t.language: t for t in texts.get(article_id, [])}
        if not by_language:
            continue  # deleted
        chosen = next(
            (t for lang, t in by_language.items() if same_language(lang, language)),
            next(iter(by_language.values())),
        )
        hits.append(
            SearchHit(
                article_id=article_id,
                language=chosen.language,
                title=chosen.title,
                snippet="",
                score=0.0,
            )
        )
    return hits


async def read_titles(
    session: AsyncSession, article_ids: list[int], language: str
) -> list[ArticleRead]:
    return [
        ArticleRead(article_id=h.article_id, language=h.language, title=h.title)
        for h in await _texts(session, article_ids, language)
    ]
