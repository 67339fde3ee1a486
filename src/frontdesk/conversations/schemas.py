from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from frontdesk.kit.schemas import Id, NotNull, RequestBody
from frontdesk.kit.text import OneLine

Status = Literal["open", "pending", "snoozed", "resolved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]


class SlaClockRead(BaseModel):
    """One SLA target of the conversation (first_response, next_response, resolution)."""

    kind: str
    state: str  # running | paused (waiting on the customer) | met | canceled
    policy_id: int | None
    target_seconds: int
    remaining_seconds: float  # business seconds; negative once breached
    due_at: datetime | None  # while running
    warned_at: datetime | None
    breached_at: datetime | None
    started_at: datetime
    stopped_at: datetime | None


class ConversationRead(BaseModel):
    id: int
    inbox_id: int
    customer_id: int
    channel: str
    status: str
    priority: str
    team_id: int | None
    assignee_id: int | None
    subject: str | None
    language: str | None
    thread: str | None
    tags: list[str]
    snoozed_until: datetime | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    # Lifecycle (see docs/sla.md) and the SLA clocks (empty until an SLA policy applies).
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    reopened_at: datetime | None = None
    sla: list[SlaClockRead] = []
    # The customer's mood lately (docs/sentiment.md): -1 to +1, null before any analysis.
    sentiment_trend: float | None = None
    frustrated: bool = False


class ConversationUpdate(RequestBody):
    status: NotNull[Status] = None
    priority: NotNull[Priority] = None
    # null unassigns (no agent, no team); left out leaves them as they are.
    assignee_id: Id | None = None
    team_id: Id | None = None
    subject: OneLine | None = Field(default=None, max_length=500)
    language: str | None = Field(default=None, max_length=10)
    snoozed_until: datetime | None = None
    tags: NotNull[list[str]] = Field(default=None, max_length=50)


class AttachmentRead(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class MessageVersion(BaseModel):
    text: str
    at: datetime


CallStatus = Literal["ringing", "answered", "missed", "voicemail", "ended"]


class CallRead(BaseModel):
    """A phone call on the timeline (a message of kind "call")."""

    direction: Literal["inbound", "outbound"]
    status: CallStatus
    from_number: str | None = None
    to_number: str | None = None
    duration_seconds: int | None = None
    # The attachment id of the call's recording (or voicemail), once it is stored.
    recording: int | None = None
    # The agent who took (or placed) the call, and how long the caller waited for one.
    agent_id: int | None = None
    wait_seconds: int | None = None
    transcript: str | None = None
    language: str | None = None
    # The routing queue the caller chose in the menu.
    queue_id: int | None = None
    # The caller asked to be called back (keeping their place in the queue).
    callback_requested: bool = False
    # CTI (a PBX): the extension the call rings or is connected to.
    extension: str | None = None
    # "retention": the inbox's retention policy deleted the recording and transcript.
    recording_deleted: str | None = None
    # The recording is paused (the agent is taking a payment).
    recording_paused: bool = False
    # Browser calls (WebRTC, from the chat widget): "audio" or "video"; None for phone calls.
    media: Literal["audio", "video"] | None = None
    # Why the call ended or never connected (hangup, no_answer, peer_offline,
    # connection_failed, permission_denied, ...).
    end_reason: str | None = None


def call_of(kind: str, meta: dict[str, object]) -> CallRead | None:
    """The call object of a message of kind "call" (None for any other message)."""
    if kind != "call":
        return None
    found = meta.get("call")
    return CallRead.model_validate(found if isinstance(found, dict) else {})


class MessageRead(BaseModel):
    id: int
    conversation_id: int
    inbox_id: int
    customer_id: int
    channel: str
    direction: str
    author_kind: str
    author_agent_id: int | None
    # "message", or "call" for a phone call (then `call` describes it).
    kind: str = "message"
    call: CallRead | None = None
    text: str
    html: str | None
    external_id: str | None
    # The provider's id of the message: the one its status notices name.
    provider_message_id: str | None = None
    delivery_status: str
    delivery_error: str | None
    answered: bool | None
    # The customer edited it on the provider's side: `text` is the newest version and
    # `versions` every version, the original first.
    edited: bool = False
    versions: list[MessageVersion] = []
    # A customer's message once analysed: negative | neutral | positive, and -1 to +1.
    sentiment: str | None = None
    sentiment_score: float | None = None
    attachments: list[AttachmentRead]
    created_at: datetime
    sent_at: datetime | None


class TemplateSend(RequestBody):
    """An approved template of the inbox (GET /inboxes/{id}/templates), with its parameters."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=20)
    parameters: list[str] = Field(default_factory=list, max_length=20)


class ReplyButton(RequestBody):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ListRow(RequestBody):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(RequestBody):
    title: str = Field(default="", max_length=24)
    rows: list[ListRow] = Field(min_length=1, max_length=10)


class InteractiveSend(RequestBody):
    """Choices under the reply's text: up to 3 buttons, or a list opened by `button`."""

    buttons: list[ReplyButton] = Field(default_factory=list, max_length=3)
    button: str | None = Field(default=None, max_length=20)
    sections: list[ListSection] = Field(default_factory=list, max_length=10)


class ReplyCreate(RequestBody):
    text: str = Field(default="", max_length=100_000)
    html: str | None = Field(default=None, max_length=1_000_000)
    # Reply on another of the customer's channels ("reply on WhatsApp instead", ADR 0007):
    # the message goes out through an inbox of `channel` (`inbox_id` when it has several).
    channel: str | None = Field(default=None, max_length=40)
    inbox_id: Id | None = None
    identity_id: Id | None = None
    private: bool = False
    # Ids of the agent's own uploads to this conversation (POST .../uploads), at most 10.
    attachment_ids: list[Id] = Field(default_factory=list, max_length=10)
    # Channels with templates (WhatsApp): send this approved template instead of `text`;
    # the only thing allowed once the reply window has closed.
    template: TemplateSend | None = None
    interactive: InteractiveSend | None = None


class SegmentsRead(BaseModel):
    """How a text travels as SMS: its encoding, length and the segments it costs."""

    encoding: Literal["GSM-7", "UCS-2"]
    # Septets (GSM-7; extension-table characters count 2) or UTF-16 code units (UCS-2).
    units: int
    segments: int
    per_segment: int
    remaining: int


class NoteRead(BaseModel):
    id: int
    conversation_id: int
    agent_id: int | None
    text: str
    created_at: datetime
    attachments: list[AttachmentRead] = []


class InboundAccepted(BaseModel):
    message_id: int
    conversation_id: int
    customer_id: int
    duplicate: bool


class ActivityRead(BaseModel):
    """One change in a conversation's activity log. `kind`: opened, status, assigned,
    unassigned, priority, team, subject, language, snoozed, tags_added, tags_removed, flagged,
    switched, merged, sla_warning, sla_breached (`new`: the SLA clock's kind), or the event's
    own type for later domains; `old` and `new` are
    the values before and after (ids for agents, teams and customers; lists of tag names)."""

    sequence: int
    at: datetime
    kind: str
    by_agent_id: int | None = None
    old: Any = None
    new: Any = None
