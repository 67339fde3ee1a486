"""What the routing API takes and gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StringConstraints

from frontdesk.kit.schemas import Id, NotNull, RequestBody
from frontdesk.routing.expressions import check

Expr = Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(check)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Channel = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]{0,29})$")]
Word = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Slots = Annotated[int, Field(ge=0, le=1000)]
Presence = Literal["available", "busy", "away", "after_call_work", "offline"]
# A due time far outside any working life is a typo, and the ordering arithmetic (rank_at:
# minus priority and urgency lead) would overflow near year 1 or 9999.
EARLIEST_DUE = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DUE = datetime(9000, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST_DUE <= aware <= LATEST_DUE:
        raise ValueError("must be between the years 2000 and 9000")
    return value


DueAt = Annotated[datetime, AfterValidator(_plausible)]


class QueueCreate(RequestBody):
    name: Name
    agent_expression: Expr = "TRUE"


class QueueUpdate(RequestBody):
    name: NotNull[Name] = None
    agent_expression: NotNull[Expr] = None


class QueueRead(BaseModel):
    id: int
    name: str
    agent_expression: str
    waiting: int = 0


class Target(RequestBody):
    queue_id: Id
    agent_expression: Expr | None = None
    timeout_seconds: Annotated[int, Field(ge=1, le=30 * 86400)] | None = None
    priority_boost: Annotated[int, Field(ge=-100, le=100)] = 0


class PolicyCreate(RequestBody):
    name: Name
    position: Annotated[int, Field(ge=0, le=100_000)] = 100
    task_expression: Expr = "TRUE"
    targets: list[Target] = Field(min_length=1, max_length=20)


class PolicyUpdate(RequestBody):
    name: NotNull[Name] = None
    position: NotNull[Annotated[int, Field(ge=0, le=100_000)]] = None
    task_expression: NotNull[Expr] = None
    targets: NotNull[list[Target]] = Field(default=None, min_length=1, max_length=20)


class PolicyRead(BaseModel):
    id: int
    name: str
    position: int
    task_expression: str
    targets: list[dict[str, Any]]


class WorkerUpdate(RequestBody):
    skills: NotNull[dict[Word, Annotated[int, Field(ge=1, le=10)]]] = None
    languages: NotNull[list[Annotated[str, StringConstraints(max_length=10)]]] = None
    location: Annotated[str, StringConstraints(max_length=100)] | None = None
    tier: NotNull[Literal["L1", "L2", "L3"]] = None
    capacity: NotNull[dict[Channel, Slots]] = None
    reserved: NotNull[dict[Channel, Slots]] = None
    auto_accept: NotNull[list[Channel]] = None
    presence: NotNull[Presence] = None


class WorkerRead(BaseModel):
    agent_id: int
    skills: dict[str, int]
    languages: list[str]
    location: str | None
    tier: str
    teams: list[str]
    capacity: dict[str, int]
    active: dict[str, int]
    reserved: dict[str, int]
    auto_accept: list[str]
    presence: str


CallChannel = Literal["voice", "cti"]  # routing.models.CALL_CHANNELS
# After-call work: seconds before the agent is back (0: until they complete the wrap-up).
AcwSeconds = Annotated[int, Field(ge=0, le=3600)]


class PresenceRuleRead(BaseModel):
    enabled: bool
    acw_seconds: dict[str, int]


class PresenceRuleUpdate(RequestBody):
    """The presence rule: busy on a call, after-call work when it ends, then back."""

    enabled: NotNull[StrictBool] = None  # 0 or "yes" is not a yes
    acw_seconds: NotNull[dict[CallChannel, AcwSeconds]] = None


class TaskCreate(RequestBody):
    """A back-office work item ("process refund", "call back")."""

    type: Word
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    due_at: DueAt | None = None
    customer_id: Id | None = None
    conversation_id: Id | None = None
    base_priority: Annotated[int, Field(ge=-10, le=10)] = 0
    attributes: dict[Word, Any] = Field(default_factory=dict, max_length=50)
    queue_id: Id | None = None  # skips the policies


class TransferCreate(RequestBody):
    agent_id: Id | None = None
    queue_id: Id | None = None


class TaskRead(BaseModel):
    id: int
    kind: str
    type: str
    description: str
    channel: str
    status: str
    conversation_id: int | None
    customer_id: int | None
    attributes: dict[str, Any]
    base_priority: int
    effective_priority: float
    due_at: datetime | None
    queue_id: int | None
    policy_id: int | None
    assignee_id: int | None
    position: int | None = None
    offer_expires_at: datetime | None
    by_hand: bool = False  # accepted for the agent a person assigned the conversation to
    created_at: datetime
    offered_at: datetime | None
    accepted_at: datetime | None
    completed_at: datetime | None
    reopened_at: datetime | None
