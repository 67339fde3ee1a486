"""Survey answers as markers on the customer journey (analytics.journey asks its providers)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.journey import Marker, provide_markers
from frontdesk.surveys import repository
from frontdesk.surveys.models import SCALES


@provide_markers
async def survey_markers(session: AsyncSession, conversation_ids: Sequence[int]) -> list[Marker]:
    """One marker per answered survey: "CSAT 2/5", negative when its score was low."""
    markers = []
    for survey in await repository.answered_in(session, list(conversation_ids)):
        score, high = survey.score or 0, SCALES[survey.kind][1]
        tone = "negative" if survey.low else ("positive" if score >= high - 1 else "neutral")
        label = f"{survey.kind.upper()} {score}/{high}"
        at = survey.answered_at or survey.sent_at
        markers.append(Marker(survey.conversation_id, at, "survey", label, tone))
    return markers
