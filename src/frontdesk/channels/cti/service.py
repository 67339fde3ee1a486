"""The CTI channel's rules: a PBX's call event (from the signed API or from AMI) moves its
call one step. The call is stored once per PBX call id through `receive` (so the caller's
number resolves to the same customer as their SMS or WhatsApp); each event is then applied
in one short transaction, idempotently: a repeated or late event changes nothing.

A call only moves forward: ringing → answered → ended, or ringing → missed. An extension
that starts ringing (offered, transferred) pops the caller on its agent's desktop, once per
extension and call (event `call.screen_pop`, naming the agent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.cti import repository
from frontdesk.channels.cti.adapter import cti_channel
from frontdesk.channels.cti.schemas import CtiAccepted, CtiEvent
from frontdesk.conversations import calls
from frontdesk.conversations.models import Message
from frontdesk.customers import repository as customers_repository
from frontdesk.db import utcnow
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound
from frontdesk.kit import uow
from frontdesk.kit.errors import Invalid, Unavailable
from frontdesk.kit.events import record

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

SCREEN_POP = "call.screen_pop"
# How far along a call is: an event never moves it back.
RANK = {"ringing": 0, "answered": 1, "ended": 2, "missed": 2, "voicemail": 2}


@dataclass
class Applied:
    status: str
    agent_id: int | None
    changed: bool


async def apply(runtime: Runtime, inbox: Inbox, event: CtiEvent) -> CtiAccepted:
    """Store the call once (its first event, whichever it is), then apply this event."""
    address = cti_channel.caller_address(inbox, event.caller_id)
    ours = event.called or ""
    outbound = event.direction == "outbound"
    received = await runtime.ingestor.take(
        Inbound(
            inbox_id=inbox.id,
            external_id=event.call_id,
            address=address,
            name=event.caller_name,
            text="",
            kind=calls.CALL_KIND,
            author_kind="agent" if outbound else "customer",
            sent_at=_at(event),
            meta={
                "call": {
                    "direction": event.direction,
                    "status": "ringing",
                    "from_number": ours if outbound else address,
                    "to_number": address if outbound else ours,
                    "source": "cti",
                }
            },
        )
    )
    async with runtime.db.session() as session:

        async def work() -> Applied:
            message = await repository.call_for_update(session, inbox.id, event.call_id)
            if message is None:  # pragma: no cover - stored just above
                raise Invalid("the call is not stored", code="unknown_call")
            return await _step(session, message, event)

        try:
            applied = await uow.retrying(session, work)
        except Exception as exc:
            if uow.is_temporary(exc):
                raise Unavailable("busy; try again", code="unavailable") from exc
            raise
    return CtiAccepted(
        message_id=received.message.id,
        conversation_id=received.conversation.id,
        customer_id=received.message.customer_id,
        status=applied.status,
        agent_id=applied.agent_id,
        duplicate=received.duplicate and not applied.changed,
    )


def _at(event: CtiEvent) -> datetime:
    if event.at is None:
        return utcnow()
    return event.at.astimezone(UTC) if event.at.tzinfo else event.at.replace(tzinfo=UTC)


def _seconds(later: datetime, earlier: datetime | str | None) -> int | None:
    if earlier is None:
        return None
    start = datetime.fromisoformat(earlier) if isinstance(earlier, str) else earlier
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return max(int((later - start).total_seconds()), 0)


async def _step(session: AsyncSession, message: Message, event: CtiEvent) -> Applied:
    call: dict[str, Any] = dict(message.meta.get("call") or {})
    status = str(call.get("status") or "ringing")
    rank = RANK.get(status, 2)
    at = _at(event)
    agent = (
        await repository.agent_by_extension(session, event.extension) if event.extension else None
    )
    agent_id = agent.id if agent else None
    changes: dict[str, Any] = {}
    if event.event == "offered" and rank == 0 and event.extension:
        changes["extension"] = event.extension
    elif event.event == "answered" and rank < 1:
        changes.update(status="answered", answered_at=at.isoformat(),
                       wait_seconds=_seconds(at, message.created_at))  # fmt: skip
        if event.extension:
            changes.update(extension=event.extension, agent_id=agent_id)
    elif event.event == "transferred" and rank < 2 and event.extension:
        if event.extension != call.get("extension"):
            changes.update(extension=event.extension,
                           transfers=[*call.get("transfers", []), event.extension])  # fmt: skip
            if status == "answered":
                changes["agent_id"] = agent_id
    elif event.event == "ended" and rank < 2:
        if status == "answered":
            duration = event.duration_seconds
            if duration is None:
                duration = _seconds(at, call.get("answered_at")) or 0
            changes.update(status="ended", duration_seconds=duration, ended_at=at.isoformat())
        else:
            changes.update(status="missed", ended_at=at.isoformat())
    popped = list(call.get("popped") or [])
    pop = (
        event.event in ("offered", "transferred")
        and agent is not None
        and rank < 2
        and event.extension not in popped
    )
    if pop:
        changes["popped"] = [*popped, event.extension]
    if not changes:
        return Applied(status=status, agent_id=agent_id, changed=False)
    await calls.update_call(session, message, **changes)
    if changes.get("status") == "missed" and message.direction == "inbound":
        await calls.flag_callback(session, message, reason="missed")
    if pop and agent is not None:
        await _screen_pop(session, message, agent_id=agent.id, extension=str(event.extension))
    return Applied(status=str(changes.get("status", status)), agent_id=agent_id, changed=True)


async def _screen_pop(
    session: AsyncSession, message: Message, *, agent_id: int, extension: str
) -> None:
    """The agent's desktop opens the caller (known: a customer with a name or any other
    message; otherwise the desktop offers to complete a new customer's profile)."""
    customer = await customers_repository.get_customer(session, message.customer_id)
    known = customer is not None and (
        await repository.customer_messages(session, customer.id) > 1
        or len(await customers_repository.identities_of(session, customer.id)) > 1
    )
    call = message.meta.get("call") or {}
    record(
        session,
        SCREEN_POP,
        {
            "agent_id": agent_id,
            "extension": extension,
            "message_id": message.id,
            "conversation_id": message.conversation_id,
            "customer_id": message.customer_id,
            "from_number": call.get("from_number")
            if message.direction == "inbound"
            else call.get("to_number"),
            "name": customer.name if customer else None,
            "known": known,
        },
        inbox_id=message.inbox_id,
        conversation_id=message.conversation_id,
        customer_id=message.customer_id,
    )
