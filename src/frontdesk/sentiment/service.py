"""Sentiment rules: a customer's message gets its label and score after it is stored (a job,
tasks.py); its conversation gets a trend and, below the rule's threshold, the frustrated flag;
a conversation that becomes frustrated runs the frustration hooks (built in: raise its
priority). Each analysis records `conversation.sentiment_changed`, which refreshes desktops."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import PRIORITIES, Conversation, Message
from frontdesk.db import utcnow
from frontdesk.kit.events import record
from frontdesk.sentiment import model, repository
from frontdesk.sentiment.models import DEFAULT_FRUSTRATED_BELOW, SentimentRule
from frontdesk.sentiment.schemas import RuleRead, RuleUpdate

# The trend weighs the newest inbound message 1, the one before DECAY, then DECAY², ... over
# the last TREND_WINDOW analysed messages: one angry line after calm ones moves it a lot, a
# run of them keeps it down, and a thank-you lifts it again.
TREND_WINDOW = 5
DECAY = 0.6

FrustrationHook = Callable[[AsyncSession, Conversation, SentimentRule], Awaitable[None]]


async def rule(session: AsyncSession) -> SentimentRule:
    """The organisation's rule, or the defaults while none was saved (not added)."""
    found = await repository.get_rule(session)
    if found is not None:
        return found
    return SentimentRule(
        id=repository.RULE_ID,
        raise_priority=True,
        raise_to="high",
        frustrated_below=DEFAULT_FRUSTRATED_BELOW,
    )


def read_rule(found: SentimentRule) -> RuleRead:
    return RuleRead(
        raise_priority=found.raise_priority,
        raise_to=found.raise_to,
        frustrated_below=found.frustrated_below,
    )


async def update_rule(session: AsyncSession, data: RuleUpdate, *, by: Agent) -> SentimentRule:
    """Change the rule (made on first save)."""
    found = await rule(session)
    if found not in session:
        session.add(found)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(found, name, value)
    found.updated_at = utcnow()
    await session.flush()
    record(session, "sentiment.rule_updated", {**read_rule(found).model_dump(), "by": by.id})
    return found


def trend_of(scores: list[float]) -> float | None:
    """The recency-weighted mean of `scores` (newest first)."""
    if not scores:
        return None
    weights = [DECAY**age for age in range(len(scores))]
    return round(sum(w * s for w, s in zip(weights, scores, strict=False)) / sum(weights), 4)


# {message id: (the text analysed, the model's analysis)}, computed before the transaction
# that stores them (`precompute`).
Precomputed = dict[int, tuple[str, model.Analysis | None]]


async def texts_to_analyse(session: AsyncSession, message_ids: list[int]) -> dict[int, str]:
    """The text of each of these messages that `analyse_message` would analyse (a read)."""
    messages = await conversations_repository.get_messages(session, set(message_ids))
    return {
        message.id: message.text
        for message in messages.values()
        if message.sentiment is None and _from_customer(message)
    }


def precompute(texts: dict[int, str]) -> Precomputed:
    """The model's analyses of `texts`, for `analyse_messages` to store without computing
    them in its transaction (on SQLite, with the one write lock held)."""
    return {message_id: (text, model.analyse(text)) for message_id, text in texts.items()}


async def analyse_messages(
    session: AsyncSession, message_ids: list[int], *, precomputed: Precomputed | None = None
) -> list[Message]:
    """Label each customer message not analysed yet and fold it into its conversation's
    trend, oldest first (as one message at a time would), running the frustration hooks:
    the messages, their conversations, their recent scores and the rule are read once for
    all, and the changes are written together at the commit. An analysis in `precomputed` is
    used when the message's text is still the one analysed. Idempotent: an analysed message
    is left alone. Returns the messages labelled."""
    found = await conversations_repository.get_messages(session, set(message_ids))
    todo = [m for _, m in sorted(found.items()) if m.sentiment is None and _from_customer(m)]
    if not todo:
        return []
    held = await conversations_repository.get_conversations(
        session, {message.conversation_id for message in todo}
    )
    recent = await repository.recent_scores(session, held, limit=TREND_WINDOW)
    current = await rule(session)
    analysed = []
    for message in todo:
        known = (precomputed or {}).get(message.id)
        if known is not None and known[0] == message.text:
            analysis = known[1]
        else:
            analysis = model.analyse(message.text)
        if analysis is None:
            continue
        message.sentiment, message.sentiment_score = analysis.label, analysis.score
        analysed.append(message)
        conversation = held.get(message.conversation_id)
        if conversation is None:
            continue
        # The conversation's newest analyses with this one in its place (by id, as stored).
        history = recent.setdefault(conversation.id, [])
        history.append((message.id, analysis.score))
        history.sort(key=lambda row: -row[0])
        del history[TREND_WINDOW:]
        was_frustrated = conversation.frustrated
        conversation.sentiment_trend = trend_of([score for _, score in history])
        conversation.frustrated = (
            conversation.sentiment_trend is not None
            and conversation.sentiment_trend <= current.frustrated_below
        )
        record(
            session,
            "conversation.sentiment_changed",
            {
                "conversation_id": conversation.id,
                "message_id": message.id,
                "label": analysis.label,
                "score": analysis.score,
                "trend": conversation.sentiment_trend,
                "frustrated": conversation.frustrated,
            },
            inbox_id=conversation.inbox_id,
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
        )
        if conversation.frustrated and not was_frustrated:
            for hook in FRUSTRATION_HOOKS:
                await hook(session, conversation, current)
    return analysed


async def analyse_message(session: AsyncSession, message_id: int) -> Message | None:
    """`analyse_messages` for one message: it, or None when there was nothing to analyse."""
    analysed = await analyse_messages(session, [message_id])
    return analysed[0] if analysed else None


def _from_customer(message: Message) -> bool:
    automated = bool(message.meta.get("automated"))
    return message.direction == "inbound" and message.author_kind == "customer" and not automated


async def raise_priority(
    session: AsyncSession, conversation: Conversation, current: SentimentRule
) -> None:
    """The built-in frustration hook: the conversation's priority goes up to the rule's
    `raise_to` (never down: an urgent one stays urgent)."""
    if not current.raise_priority:
        return
    if PRIORITIES.index(conversation.priority) < PRIORITIES.index(current.raise_to):
        await conversations.raise_priority(
            session, conversation, current.raise_to, reason="sentiment"
        )


# Run, in order, in the job's transaction when a conversation becomes frustrated. Another
# domain may append its own (an at-risk follow-up); or react to the
# `conversation.sentiment_changed` event through the job queue (kit.jobs.on_event).
FRUSTRATION_HOOKS: list[FrustrationHook] = [raise_priority]
