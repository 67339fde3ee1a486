"""The demo's surveys: every inbox asks (CSAT on most, NPS by e-mail, CES on WhatsApp), and
the history's resolved conversations carry the answers they got — most of them, mostly
good, with comments in the customer's language; the recent low ones are at-risk
follow-ups, as they would be live."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation
from frontdesk.inboxes.models import Inbox
from frontdesk.surveys import alerts, repository, service
from frontdesk.surveys.models import LOW_SCORES, SCALES, Survey
from frontdesk.surveys.schemas import SurveyConfigWrite

KIND_BY_CHANNEL = {"email": "nps", "whatsapp": "ces"}
ANSWERED_SHARE = 0.6
# The weight of each score, lowest first, per kind: mostly content customers.
WEIGHTS = {
    "csat": [5, 7, 13, 35, 40],
    "ces": [3, 4, 6, 10, 20, 30, 27],
    "nps": [2, 1, 2, 2, 3, 5, 6, 12, 18, 22, 27],
}
COMMENTS = {
    "en": ["Quick and friendly, thank you!", "Took a while, but solved.",
           "Nobody read my message properly."],
    "ar": ["خدمة سريعة ولطيفة، شكرًا!", "استغرق وقتًا لكن تم الحل.", "لم يقرأ أحد رسالتي جيدًا."],
    "fa": ["سریع و مهربان، ممنون!", "کمی طول کشید ولی حل شد.", "کسی پیامم را درست نخواند."],
}  # fmt: skip
# Low answers this recent still need their follow-up.
FOLLOW_UP_DAYS = 7


async def seed_surveys(
    session: AsyncSession, inboxes: list[Inbox], *, now: datetime, rng: random.Random
) -> int:
    """Survey settings on every inbox, and answers on the resolved history; returns how
    many surveys were made."""
    for inbox in inboxes:
        kind = KIND_BY_CHANNEL.get(inbox.channel, "csat")
        await service.configure(
            session, inbox.id, SurveyConfigWrite.model_validate({"kind": kind, "dedupe_days": 14})
        )
    kinds = {inbox.id: KIND_BY_CHANNEL.get(inbox.channel, "csat") for inbox in inboxes}
    channels = {inbox.id: inbox.channel for inbox in inboxes}
    made = 0
    for conversation in await repository.resolved_without_survey(session, limit=5000):
        if conversation.inbox_id not in kinds:
            continue
        survey = _survey(conversation, kinds[conversation.inbox_id], channels, rng)
        session.add(survey)
        await session.flush()
        made += 1
        if (
            survey.low
            and survey.answered_at
            and now - survey.answered_at < timedelta(days=FOLLOW_UP_DAYS)
        ):
            await alerts.follow_up(session, survey, reason="low_score")
    return made


def _survey(
    conversation: Conversation, kind: str, channels: dict[int, str], rng: random.Random
) -> Survey:
    sent = (conversation.last_message_at or conversation.created_at) + timedelta(minutes=10)
    lang = conversation.language if conversation.language in COMMENTS else "en"
    survey = Survey(
        conversation_id=conversation.id, inbox_id=conversation.inbox_id,
        customer_id=conversation.customer_id, kind=kind,
        channel=channels[conversation.inbox_id], language=lang, status="sent",
        sent_at=sent, expires_at=sent + timedelta(days=7), low=False,
    )  # fmt: skip
    if rng.random() < ANSWERED_SHARE:
        low, high = SCALES[kind]
        score = rng.choices(range(low, high + 1), weights=WEIGHTS[kind])[0]
        survey.status, survey.score = "answered", score
        survey.answered_at = sent + timedelta(minutes=rng.randint(2, 600))
        survey.answered_via = "widget" if survey.channel == "webchat" else "link"
        survey.low = score <= LOW_SCORES[kind]
        if rng.random() < 0.3:
            bad, fine, good = COMMENTS[lang][2], COMMENTS[lang][1], COMMENTS[lang][0]
            survey.comment = bad if survey.low else rng.choice((fine, good))
    return survey
