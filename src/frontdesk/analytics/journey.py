"""A customer's journey: their conversations (stages) on every channel over time, the messages
of each (touches, with their sentiment when measured), and what other domains know of each
stage (markers: a survey answer, …), for the picture on the desktop's customer panel.

Other domains add markers without this module importing them: a provider registered with
`@provide_markers` is asked for the markers of a list of conversation ids (the surveys work
plugs its answers in this way)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import repository

TONES = ("negative", "neutral", "positive")
MAX_STAGES = 30  # the panel is narrow: the latest 30 conversations
MAX_TOUCHES = 600


@dataclass(frozen=True)
class Marker:
    """Something that happened in a stage besides messages, e.g. a survey answered."""

    conversation_id: int
    at: datetime
    kind: str  # "survey", …
    label: str  # shown as is (already in the agent's language), e.g. "CSAT 2/5"
    tone: str | None = None  # negative | neutral | positive


MarkerProvider = Callable[[AsyncSession, Sequence[int]], Awaitable[list[Marker]]]
MARKER_PROVIDERS: list[MarkerProvider] = []


def provide_markers(provider: MarkerProvider) -> MarkerProvider:
    """Register a provider of markers (a decorator); each is asked once per journey."""
    if provider not in MARKER_PROVIDERS:
        MARKER_PROVIDERS.append(provider)
    return provider


@dataclass(frozen=True)
class Touch:
    at: datetime
    channel: str
    direction: str  # inbound | outbound
    sentiment: str | None


@dataclass
class Stage:
    conversation_id: int
    channel: str
    status: str
    start: datetime
    end: datetime
    touches: list[Touch] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)

    @property
    def sentiment(self) -> str | None:
        """The customer's last measured mood in this stage."""
        labels = [t.sentiment for t in self.touches if t.direction == "inbound" and t.sentiment]
        return labels[-1] if labels else None


@dataclass
class Journey:
    customer_id: int
    stages: list[Stage]

    @property
    def channels(self) -> list[str]:
        """Channels in the order the customer first used them."""
        return list(dict.fromkeys(stage.channel for stage in self.stages))


async def journey(session: AsyncSession, customer_id: int, *, visible: set[int] | None) -> Journey:
    """The customer's journey through the conversations the viewer may see."""
    rows = await repository.journey_conversations(
        session, customer_id, visible=visible, limit=MAX_STAGES
    )
    stages = {
        cid: Stage(cid, channel, status, created, last or created)
        for cid, channel, status, created, last in rows
    }
    ids = list(stages)
    for cid, channel, direction, at, label in await repository.journey_messages(
        session, ids, limit=MAX_TOUCHES
    ):
        stage = stages[cid]
        stage.touches.append(Touch(at, channel, direction, label if label in TONES else None))
        stage.end = max(stage.end, at)
    for provider in MARKER_PROVIDERS:
        for marker in await provider(session, ids):
            if marker.conversation_id in stages:
                stages[marker.conversation_id].markers.append(marker)
                stage = stages[marker.conversation_id]
                stage.end = max(stage.end, marker.at)
    return Journey(customer_id, sorted(stages.values(), key=lambda s: (s.start, s.conversation_id)))
