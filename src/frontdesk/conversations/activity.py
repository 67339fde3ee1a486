"""A conversation's activity log: who changed what and when, read from the event log (the
services record every change there in the transaction that makes it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import repository
from frontdesk.conversations.models import Conversation
from frontdesk.conversations.schemas import ActivityRead
from frontdesk.kit.events import Event

# conversation.updated's `values` fields, by the kind of line each makes.
_FIELDS = {
    "priority": "priority",
    "team_id": "team",
    "subject": "subject",
    "language": "language",
}


async def list_activity(
    session: AsyncSession, conversation: Conversation, *, after: int | None, limit: int
) -> tuple[list[ActivityRead], int | None]:
    """The changes after sequence `after`, oldest first, and the cursor for more (the last
    event's sequence when `limit` events were read, else None)."""
    events = await repository.activity_events(session, conversation, after=after, limit=limit)
    items = [item for event in events for item in lines(event)]
    return items, events[-1].sequence if len(events) == limit else None


def lines(event: Event) -> list[ActivityRead]:
    """The activity lines of one event (an update of several fields makes several)."""
    payload: dict[str, Any] = event.payload or {}

    def line(kind: str, old: Any = None, new: Any = None) -> ActivityRead:
        by = payload.get("by")
        return ActivityRead(
            sequence=event.sequence,
            at=event.at,
            kind=kind,
            by_agent_id=by if isinstance(by, int) else None,
            old=old,
            new=new,
        )

    match event.type:
        case "conversation.created":
            return [line("opened")]
        case "conversation.status_changed":
            return [line("status", payload.get("from"), payload.get("to"))]
        case "conversation.updated":
            return [line(kind, old, new) for kind, old, new in _updated(payload)]
        case "conversation.flagged":
            return [line("flagged", new=payload.get("flag"))]
        case "conversation.switched":
            return [line("switched", payload.get("from_channel"), payload.get("to_channel"))]
        case "customer.merged":
            return [line("merged", payload.get("merged_id"), payload.get("customer_id"))]
        case "sla.warning" | "sla.breached":
            return [line(event.type.replace(".", "_"), new=payload.get("kind"))]
    return [line(event.type)]


def _updated(payload: dict[str, Any]) -> Sequence[tuple[str, Any, Any]]:
    values: dict[str, Any] = payload.get("values") or {}
    found: list[tuple[str, Any, Any]] = []
    if "assignee_id" in values:
        old, new = values["assignee_id"]
        found.append(("assigned", old, new) if new is not None else ("unassigned", old, None))
    for name, kind in _FIELDS.items():
        if name in values:
            found.append((kind, *values[name]))
    if "snoozed_until" in values:
        found.append(("snoozed", None, values["snoozed_until"][1]))
    tags = values.get("tags") or {}
    if tags.get("added"):
        found.append(("tags_added", None, tags["added"]))
    if tags.get("removed"):
        found.append(("tags_removed", tags["removed"], None))
    return found
