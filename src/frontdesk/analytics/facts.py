"""The metrics' arithmetic, free of I/O: fold a conversation's events into its facts, and
turn facts into the rollup rows they contribute (docs/metrics.md defines each formula).

Rollups are kept exact by difference: when a conversation's facts change, its old
contribution is taken back and its new one added, so the rollups always equal the sum of the
current contributions, whatever order and batching the events arrived in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from frontdesk.analytics.durations import Calendar, wall_seconds, working_seconds
from frontdesk.analytics.models import FRT_BUCKETS, FRT_COLUMNS, HOUR_COLUMNS

CLOSED = ("resolved", "closed")
ACTIVE = ("open", "pending", "snoozed")
SURVEYS = ("csat", "ces", "nps")
# A rollup row's key: hour, inbox_id, channel, team_id, agent_id, tag_id (models.DIMENSIONS).
Key = tuple[datetime, int, str, int, int, int]


@dataclass
class Facts:
    conversation_id: int
    inbox_id: int = 0
    channel: str = ""
    team_id: int = 0
    agent_id: int = 0
    tag_ids: list[int] = field(default_factory=list)
    status: str = "open"
    created_at: datetime | None = None
    first_inbound_at: datetime | None = None
    first_response_at: datetime | None = None
    last_resolved_at: datetime | None = None
    reopens: int = 0
    agent_replies: int = 0
    messages_in: int = 0
    messages_out: int = 0
    scores: dict[str, Any] = field(default_factory=dict)
    sla_met: int = 0
    sla_breached: int = 0
    # Business seconds on the conversation's SLA calendar (calendar_id; 0: none), counted
    # when the conversation was last folded (`count_business`); None: the wall clock.
    calendar_id: int = 0
    frt_business: int | None = None
    resolution_business: int | None = None
    handle_business: int | None = None

    def copy(self) -> Facts:
        return replace(self, tag_ids=list(self.tag_ids), scores=dict(self.scores))


@dataclass(frozen=True)
class Dimensions:
    """Where a conversation is filed now (read from the conversation when its events fold)."""

    inbox_id: int
    team_id: int
    agent_id: int
    tag_ids: tuple[int, ...]
    status: str


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def apply(facts: Facts, event: dict[str, Any]) -> None:
    """Fold one event (type, at, inbox_id, payload) into a conversation's facts."""
    kind, at, payload = event["type"], event["at"], event.get("payload") or {}
    if facts.inbox_id == 0 and event.get("inbox_id"):
        facts.inbox_id = int(event["inbox_id"])
    if kind == "conversation.created":
        facts.created_at = facts.created_at or at
    elif kind == "message.created":
        _message(facts, at, payload)
    elif kind == "conversation.status_changed":
        _status(facts, at, str(payload.get("from") or ""), str(payload.get("to") or ""))
    elif kind == "survey.answered" and payload.get("kind") in SURVEYS:
        if payload.get("score") is not None:
            facts.scores[str(payload["kind"])] = [int(payload["score"]), at.isoformat()]
    elif kind in ("sla.updated", "sla.breached") and payload.get("kind"):
        _sla(facts, at, kind, payload)


def _sla(facts: Facts, at: datetime, kind: str, payload: dict[str, Any]) -> None:
    """One outcome per SLA target of the conversation (kept in `scores` as "sla:<target>"):
    breached once its breach fires (final), met when its clock stops in time."""
    key = f"sla:{payload['kind']}"
    outcome = (facts.scores.get(key) or [None])[0]
    if kind == "sla.breached":
        facts.scores[key] = ["breached", at.isoformat()]
    elif payload.get("state") == "met" and not payload.get("breached_at") and outcome is None:
        facts.scores[key] = ["met", at.isoformat()]
    outcomes = [value[0] for name, value in facts.scores.items() if name.startswith("sla:")]
    facts.sla_met, facts.sla_breached = outcomes.count("met"), outcomes.count("breached")


def _message(facts: Facts, at: datetime, payload: dict[str, Any]) -> None:
    facts.created_at = facts.created_at or at
    if payload.get("channel"):
        facts.channel = str(payload["channel"])
    if payload.get("direction") == "inbound":
        facts.messages_in += 1
        facts.first_inbound_at = facts.first_inbound_at or at
        return
    facts.messages_out += 1
    human = payload.get("author_kind") == "agent" and not payload.get("automated")
    if not human:
        return
    facts.agent_replies += 1
    # A first response answers the customer: a conversation we opened has none.
    if facts.first_response_at is None and facts.first_inbound_at is not None:
        facts.first_response_at = at


def _status(facts: Facts, at: datetime, before: str, after: str) -> None:
    if after in CLOSED and before not in CLOSED:
        facts.last_resolved_at = at
    elif before in CLOSED and after in ACTIVE:
        facts.reopens += 1
    if after:
        facts.status = after


def refile(facts: Facts, dimensions: Dimensions | None) -> None:
    """File the conversation under its current inbox, team, assignee and tags."""
    if dimensions is None:
        return
    facts.inbox_id = dimensions.inbox_id or facts.inbox_id
    facts.team_id = dimensions.team_id
    facts.agent_id = dimensions.agent_id
    facts.tag_ids = sorted(dimensions.tag_ids)


def _spans(facts: Facts) -> dict[str, tuple[datetime, datetime] | None]:
    """The three durations' (start, end), None when the conversation has not got there."""
    frt = resolution = handle = None
    if facts.first_response_at is not None and facts.first_inbound_at is not None:
        frt = (facts.first_inbound_at, facts.first_response_at)
    if facts.status in CLOSED and facts.last_resolved_at is not None and facts.created_at:
        end = facts.last_resolved_at
        resolution = (facts.first_inbound_at or facts.created_at, end)
        handle = (min(facts.first_response_at or end, end), end)
    return {"frt": frt, "resolution": resolution, "handle": handle}


def count_business(facts: Facts, calendar_id: int, calendar: Calendar | None) -> None:
    """Count the durations on the conversation's SLA calendar (None: the wall clock)."""
    facts.calendar_id = calendar_id if calendar is not None else 0
    for name, span in _spans(facts).items():
        seconds = None
        if span is not None and calendar is not None:
            seconds = working_seconds(*span, calendar)
        setattr(facts, f"{name}_business", seconds)


def _durations(facts: Facts) -> dict[str, tuple[int, int]]:
    """name → (business seconds, wall-clock seconds) of the durations the facts reached."""
    found = {}
    for name, span in _spans(facts).items():
        if span is not None:
            wall = wall_seconds(*span)
            business = getattr(facts, f"{name}_business")
            found[name] = (wall if business is None else business, wall)
    return found


def contribution(facts: Facts) -> dict[Key, dict[str, int]]:
    """The rollup rows (key → measures) one conversation adds; empty before it was created."""
    if facts.created_at is None:
        return {}
    rows: dict[Key, dict[str, int]] = {}
    for moment, measures in _measures(facts):
        hour = hour_of(moment)
        for tag_id in (0, *facts.tag_ids):
            key = (hour, facts.inbox_id, facts.channel, facts.team_id, facts.agent_id, tag_id)
            row = rows.setdefault(key, {})
            for name, value in measures.items():
                row[name] = row.get(name, 0) + value
    return rows


def _measures(facts: Facts) -> Iterable[tuple[datetime, dict[str, int]]]:
    assert facts.created_at is not None
    yield (
        facts.created_at,
        {
            "created": 1,
            "messages_in": facts.messages_in,
            "messages_out": facts.messages_out,
            "open_now": int(facts.status in ACTIVE),
            HOUR_COLUMNS[facts.created_at.hour]: 1,
        },
    )
    durations = _durations(facts)
    if "frt" in durations:
        assert facts.first_response_at is not None
        frt, frt_wall = durations["frt"]
        yield (
            facts.first_response_at,
            {
                "first_responses": 1,
                "frt_sum": frt,
                "frt_wall_sum": frt_wall,
                FRT_COLUMNS[frt_bucket(frt)]: 1,
            },
        )
    if "resolution" in durations:
        assert facts.last_resolved_at is not None
        yield facts.last_resolved_at, {
            "resolved": 1,
            "resolution_sum": durations["resolution"][0],
            "resolution_wall_sum": durations["resolution"][1],
            "fcr": int(facts.reopens == 0 and facts.agent_replies <= 1),
            "reopened": int(facts.reopens > 0),
            "handle_sum": durations["handle"][0],
            "handle_wall_sum": durations["handle"][1],
        }  # fmt: skip
    yield from _survey_measures(facts)
    if facts.sla_met or facts.sla_breached:
        yield facts.created_at, {"sla_met": facts.sla_met, "sla_breached": facts.sla_breached}


def _survey_measures(facts: Facts) -> Iterable[tuple[datetime, dict[str, int]]]:
    for survey, (score, at) in sorted(facts.scores.items()):
        moment = datetime.fromisoformat(at)
        if survey == "csat":
            yield moment, {"csat_count": 1, "csat_positive": int(score >= 4)}
        elif survey == "ces":
            yield moment, {"ces_count": 1, "ces_sum": score}
        elif survey == "nps":
            yield (
                moment,
                {
                    "nps_count": 1,
                    "nps_promoters": int(score >= 9),
                    "nps_detractors": int(score <= 6),
                },
            )


def frt_bucket(seconds: int) -> int:
    for index, bound in enumerate(FRT_BUCKETS):
        if seconds < bound:
            return index
    return len(FRT_BUCKETS)


def difference(
    before: dict[Key, dict[str, int]], after: dict[Key, dict[str, int]]
) -> dict[Key, dict[str, int]]:
    """after minus before, key by key, dropping what does not change."""
    delta: dict[Key, dict[str, int]] = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, {}), after.get(key, {})
        row = {name: new.get(name, 0) - old.get(name, 0) for name in old.keys() | new.keys()}
        row = {name: value for name, value in row.items() if value}
        if row:
            delta[key] = row
    return delta


def merge(into: dict[Key, dict[str, int]], delta: dict[Key, dict[str, int]]) -> None:
    for key, row in delta.items():
        target = into.setdefault(key, {})
        for name, value in row.items():
            target[name] = target.get(name, 0) + value


def fold_batch(
    stored: dict[int, Facts],
    events: dict[int, list[dict[str, Any]]],
    where: dict[int, Dimensions],
    calendars: dict[int, tuple[int, Calendar]] | None = None,
) -> tuple[list[Facts], list[int], dict[Key, dict[str, int]]]:
    """Fold each conversation's new events (oldest first) into its stored facts: the facts
    to save, the conversations that are gone (deleted), and the rollup difference.
    calendars: conversation → (calendar id, its SLA calendar); missing: the wall clock."""
    calendars = calendars or {}
    delta: dict[Key, dict[str, int]] = {}
    changed: list[Facts] = []
    gone: list[int] = []
    for conversation_id in sorted(events):
        before = stored.get(conversation_id)
        after = before.copy() if before else Facts(conversation_id)
        for event in events[conversation_id]:
            apply(after, event)
        if conversation_id in where:
            refile(after, where[conversation_id])
            calendar_id, calendar = calendars.get(conversation_id, (0, None))
            count_business(after, calendar_id, calendar)
            changed.append(after)
        else:
            gone.append(conversation_id)  # deleted: its contribution leaves with it
            after = Facts(conversation_id)
        merge(delta, difference(contribution(before) if before else {}, contribution(after)))
    return changed, gone, delta
