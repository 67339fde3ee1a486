"""Surveys: when a resolved conversation is asked (the inbox's trigger, its sampled share,
never a machine sender, never the same customer twice within the dedupe window), how it is
asked (through conversations.reply, as the channel can carry it), and the one answer each
survey takes (a signed link or card, a digit, a button) with its at-risk follow-up."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.auth.models import Agent
from frontdesk.config import Settings
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.schemas import InteractiveSend, ReplyCreate
from frontdesk.customers import repository as customers_repository
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.port import find_adapter
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import jobs
from frontdesk.kit.errors import Conflict, FrontdeskError, Invalid, NotFound
from frontdesk.kit.events import record
from frontdesk.kit.i18n import LANGUAGES
from frontdesk.surveys import alerts, questions, repository, tokens
from frontdesk.surveys.models import LOW_SCORES, SCALES, Survey, SurveyConfig
from frontdesk.surveys.questions import Asking
from frontdesk.surveys.schemas import SurveyConfigWrite

SEND_JOB = "surveys.send"
CLOSED = ("resolved", "closed")
# Local parts that only machines write from: never asked (the e-mail channel also marks
# auto-replies, bounces and bulk mail `automated` on the message).
MACHINE_LOCAL_PARTS = frozenset({
    "mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply",
    "bounce", "bounces", "notifications", "auto-reply", "autoreply",
})  # fmt: skip
DIGIT_CHANNELS = ("sms", "sms_gateway")


async def configure(session: AsyncSession, inbox_id: int, data: SurveyConfigWrite) -> SurveyConfig:
    """Set (or replace) an inbox's survey settings."""
    if await inboxes_repository.get_inbox(session, inbox_id) is None:
        raise Invalid(f"inbox {inbox_id} does not exist", code="unknown_inbox")
    if data.low_threshold is not None and data.low_threshold > SCALES[data.kind][1]:
        raise Invalid("low_threshold is above the survey's scale", code="invalid_threshold")
    if data.alert_agent_id is not None:
        agent = await auth_repository.get_agent(session, data.alert_agent_id)
        if agent is None or not agent.active:
            raise Invalid("alert_agent_id is not an active agent", code="invalid_assignee")
    config = await repository.get_config(session, inbox_id)
    if config is None:
        config = SurveyConfig(inbox_id=inbox_id)
        session.add(config)
    for name, value in data.model_dump().items():
        setattr(config, name, value)
    config.updated_at = utcnow()
    await session.flush()
    record(session, "survey.configured", {"inbox_id": inbox_id, "kind": config.kind,
           "enabled": config.enabled}, inbox_id=inbox_id)  # fmt: skip
    return config


def sampled(conversation_id: int, percent: int) -> bool:
    """Whether the conversation falls in the sampled share: a hash of its id, so a retried
    trigger decides the same way."""
    if percent >= 100:
        return True
    digest = hashlib.sha256(f"survey-sample:{conversation_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


async def resolved(session: AsyncSession, conversation_id: int, app: Settings) -> Survey | None:
    """A conversation was resolved: ask now, schedule the delayed ask, or do nothing."""
    conversation = await conversations_repository.get_conversation(session, conversation_id)
    if conversation is None or conversation.status not in CLOSED:
        return None
    config = await repository.get_config(session, conversation.inbox_id)
    if config is None or not config.enabled or not sampled(conversation.id, config.sample_percent):
        return None
    if config.trigger == "delay":
        at = utcnow() + timedelta(hours=config.delay_hours)
        await jobs.enqueue(session, SEND_JOB, {"conversation_id": conversation.id},
                           key=f"{SEND_JOB}:{conversation.id}", run_at=at)  # fmt: skip
        return None
    return await ask(session, conversation, config, app)


def machine_sender(message: Message, address: str | None) -> bool:
    if message.meta.get("automated") or message.meta.get("bounce"):
        return True
    local = (address or "").partition("@")[0].lower() if "@" in (address or "") else ""
    return local in MACHINE_LOCAL_PARTS


async def ask(
    session: AsyncSession, conversation: Conversation, config: SurveyConfig, app: Settings
) -> Survey | None:
    """Send the inbox's survey in the conversation, unless a rule says not to; a send the
    channel refuses (a closed reply window, an opt-out) is kept as a failed survey."""
    if not config.enabled or conversation.status not in CLOSED:
        return None  # a delayed ask finds the conversation reopened: not asked
    if await repository.survey_of_conversation(session, conversation.id) is not None:
        return None
    last = await conversations_repository.last_inbound(session, conversation.id)
    if last is None or last.author_kind != "customer" or "survey_answer" in last.meta:
        return None  # no customer; or only an answer, whose conversation closed at once
    identity = await _address(session, last)
    if machine_sender(last, identity):
        return None
    now = utcnow()
    if config.dedupe_days and await repository.asked_since(
        session, conversation.customer_id, now - timedelta(days=config.dedupe_days)
    ):
        return None
    inbox = await inboxes_repository.get_inbox(session, conversation.inbox_id)
    assert inbox is not None
    survey = Survey(
        conversation_id=conversation.id, inbox_id=inbox.id, customer_id=conversation.customer_id,
        kind=config.kind, channel=inbox.channel, language=_language(conversation),
        status="sent", sent_at=now,
        expires_at=(now + timedelta(hours=config.expiry_hours)).replace(microsecond=0),
        low=False,
    )  # fmt: skip
    session.add(survey)
    await session.flush()
    asking = asking_for(survey, app)
    try:
        message = await conversations.reply(
            session, conversation, author=None, author_kind="system",
            data=ReplyCreate(text=asking.text, html=asking.html, interactive=_choices(asking)),
            meta={"survey": asking.meta or {"id": survey.id, "kind": survey.kind}},
        )  # fmt: skip
        survey.message_id = message.id
    except (Conflict, Invalid) as exc:
        survey.status, survey.error = "failed", exc.message
    record(session, "survey.sent", _payload(survey), inbox_id=survey.inbox_id,
           conversation_id=survey.conversation_id, customer_id=survey.customer_id)  # fmt: skip
    return survey


async def _address(session: AsyncSession, message: Message) -> str | None:
    if message.identity_id is None:
        return None
    identity = await customers_repository.get_identity(session, message.identity_id)
    return identity.address if identity is not None else None


def _language(conversation: Conversation) -> str:
    lang = (conversation.language or "en").split("-")[0].lower()
    return lang if lang in LANGUAGES else "en"


def _choices(asking: Asking) -> InteractiveSend | None:
    return InteractiveSend.model_validate(asking.interactive) if asking.interactive else None


def link(survey: Survey, app: Settings) -> str:
    token = tokens.issue(app.secret_key, survey.id, survey.expires_at)
    return f"{app.base_url.rstrip('/')}/surveys/r/{token}"


def asking_for(survey: Survey, app: Settings) -> Asking:
    """The message that asks, as the survey's channel can carry it."""
    kind, lang = survey.kind, survey.language
    if survey.channel == "webchat":
        token = tokens.issue(app.secret_key, survey.id, survey.expires_at)
        asking = Asking(text=questions.question(kind, lang))
        asking.meta = questions.card(survey.id, kind, lang, token)
        return asking
    if survey.channel == "email":
        return questions.by_email(kind, lang, link(survey, app))
    adapter = find_adapter(survey.channel)
    room = adapter.capabilities.choices if adapter is not None else 0
    if room >= len(questions.scores(kind)):
        return questions.by_choices(survey.id, kind, lang)
    if survey.channel in DIGIT_CHANNELS or room:
        return questions.by_digit(kind, lang)
    return questions.by_link(kind, lang, link(survey, app))


class SurveyRefused(FrontdeskError):
    """Why a token or answer is refused: code `forged`, `expired`, `answered`, `score`."""

    status = 409


@dataclass
class Found:
    survey: Survey
    token: str


async def by_token(session: AsyncSession, token: str, app: Settings) -> Found:
    """The survey a token names, if the token is ours (else `forged`)."""
    claims = tokens.read(app.secret_key, token)
    survey = await repository.get_survey(session, claims.survey_id) if claims else None
    if (
        claims is None
        or survey is None
        or int(claims.expires_at.timestamp()) != int(survey.expires_at.timestamp())
    ):
        raise SurveyRefused("this survey link is not valid", code="forged")
    return Found(survey, token)


async def answer(
    session: AsyncSession,
    survey: Survey,
    *,
    score: int | None,
    comment: str | None,
    via: str,
) -> Survey:
    """Take the survey's one answer: a score (once), and a comment (once, with the score or
    after it). Expired surveys and second scores are refused."""
    if survey.status == "failed":
        raise SurveyRefused("this survey was never sent", code="forged")
    if score is not None:
        check_open(survey)
        low, high = SCALES[survey.kind]
        if not low <= score <= high:
            raise Invalid(f"score must be from {low} to {high}", code="invalid_score")
        survey.score, survey.status, survey.answered_at = score, "answered", utcnow()
        survey.answered_via = via
        await _mark_asking_message(session, survey)
        survey.low = score <= _threshold(await repository.get_config(session, survey.inbox_id),
                                         survey.kind)  # fmt: skip
    if comment is not None and comment.strip():
        if survey.status != "answered":
            raise Invalid("a comment needs a score first", code="score_first")
        if survey.comment is not None:
            raise SurveyRefused("this survey has already been answered", code="answered")
        survey.comment = comment.strip()[:5000]
    await session.flush()
    record(session, "survey.answered", _payload(survey), inbox_id=survey.inbox_id,
           conversation_id=survey.conversation_id, customer_id=survey.customer_id)  # fmt: skip
    if score is not None and survey.low:
        await alerts.follow_up(session, survey, reason="low_score")
    return survey


async def _mark_asking_message(session: AsyncSession, survey: Survey) -> None:
    """The widget's card shows the answer after a reload: its message's `survey` says so."""
    message = (
        await conversations_repository.get_message(session, survey.message_id)
        if survey.message_id is not None
        else None
    )
    card = message.meta.get("survey") if message is not None else None
    if message is not None and isinstance(card, dict):
        message.meta = {**message.meta, "survey": {**card, "answered": survey.score}}


def check_open(survey: Survey) -> None:
    """Refuse a survey that takes no score any more: failed, answered or expired."""
    if survey.status == "failed":
        raise SurveyRefused("this survey was never sent", code="forged")
    if survey.status == "answered":
        raise SurveyRefused("this survey has already been answered", code="answered")
    if utcnow() >= survey.expires_at:
        raise SurveyRefused("this survey has expired", code="expired")


def _threshold(config: SurveyConfig | None, kind: str) -> int:
    if config is not None and config.low_threshold is not None and config.kind == kind:
        return config.low_threshold
    return LOW_SCORES[kind]


async def answer_from_message(session: AsyncSession, message_id: int) -> Survey | None:
    """A customer's message that answers their pending survey: a button press (WhatsApp
    reply id, Telegram callback data) or, on SMS, a lone digit in the scale. The message is
    kept (nothing acknowledged is dropped), marked as the answer; a conversation it opened
    by itself is closed at once, so the answer never becomes work for an agent."""
    message = await conversations_repository.get_message(session, message_id)
    if message is None or message.direction != "inbound" or message.author_kind != "customer":
        return None
    survey, score = await _answered_by(session, message)
    if survey is None or score is None:
        return None
    try:
        await answer(session, survey, score=score, comment=None, via=_via(message))
    except (SurveyRefused, Invalid):
        return None
    answered = {"survey_id": survey.id, "score": score, "conversation_id": survey.conversation_id}
    message.meta = {**message.meta, "survey_answer": answered}
    if message.conversation_id != survey.conversation_id:
        conversation = await conversations_repository.get_conversation(
            session, message.conversation_id
        )
        if conversation is not None and await repository.messages_in(session, conversation.id) == 1:
            await conversations.set_status(session, conversation, "closed")
    return survey


def _via(message: Message) -> str:
    return "button" if _choice_text(message) is not None else "digit"


def _choice_text(message: Message) -> str | None:
    whatsapp = message.meta.get("whatsapp")
    reply = whatsapp.get("reply") if isinstance(whatsapp, dict) else None
    if isinstance(reply, dict) and isinstance(reply.get("id"), str):
        return str(reply["id"])
    if (
        isinstance(message.meta.get("telegram"), dict)
        and "callback_query" in message.meta["telegram"]
    ):
        return message.text
    return None


async def _answered_by(session: AsyncSession, message: Message) -> tuple[Survey | None, int | None]:
    chosen = _choice_text(message)
    if chosen is not None:
        parsed = questions.parse_choice(chosen)
        if parsed is None:
            return None, None
        survey = await repository.get_survey(session, parsed[0])
        if survey is None or survey.customer_id != message.customer_id:
            return None, None  # someone else's survey id: not theirs to answer
        return survey, parsed[1]
    text = message.text.strip().translate(_DIGITS)
    if not text.isdigit() or len(text) > 2:
        return None, None
    survey = await repository.pending_for(
        session, inbox_id=message.inbox_id, customer_id=message.customer_id, now=utcnow()
    )
    if survey is None or survey.channel not in (*DIGIT_CHANNELS, "whatsapp", "telegram"):
        return None, None
    low, high = SCALES[survey.kind]
    return (survey, int(text)) if low <= int(text) <= high else (None, None)


# Arabic-Indic and Persian digits answer as well as ASCII ones.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def _payload(survey: Survey) -> dict[str, object]:
    return {
        "survey_id": survey.id, "conversation_id": survey.conversation_id,
        "customer_id": survey.customer_id, "kind": survey.kind, "status": survey.status,
        "score": survey.score, "low": survey.low, "channel": survey.channel,
    }  # fmt: skip


async def visible_survey(session: AsyncSession, survey_id: int, *, agent: Agent) -> Survey:
    """A survey the agent may see (its conversation's inbox), else NotFound."""
    survey = await repository.get_survey(session, survey_id)
    inbox_ids = await visible_inbox_ids(session, agent)
    if survey is None or (inbox_ids is not None and survey.inbox_id not in inbox_ids):
        raise NotFound("survey not found")
    return survey
