"""Delivery truth: what a provider says about a message (a delivery status, an edit) lands
on it, as an event, and never moves it backwards. A notice about a message we do not know by
that provider id yet is kept and applied when the message gets the id.

The order of statuses: queued < sent < delivered < read. `failed` replaces queued or sent,
never delivered or read (the customer has it: a later failure notice is stale). After
`failed`, only a delivered or read notice moves the message on: that is the provider's proof
that it arrived after all; a late `sent` is not."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import repository
from frontdesk.conversations.events import record_message
from frontdesk.conversations.models import Conversation, Message, PendingProviderUpdate
from frontdesk.db import utcnow
from frontdesk.kit.errors import Invalid
from frontdesk.kit.pci import redact_cards
from frontdesk.kit.text import storable

RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3}
PROVIDER_STATUSES = (*RANK, "failed")
# Status notices kept on the message (meta.statuses), newest last.
HISTORY = 20
# A notice whose message never arrives is dropped after this (tasks: drop_pending_updates).
PENDING_DAYS = 7


def moves_forward(current: str, new: str) -> bool:
    """Whether a message in `current` may take status `new` (see the module docstring)."""
    if new == current or new not in PROVIDER_STATUSES:
        return False
    if current == "failed":
        return new in ("delivered", "read")
    if current not in RANK:  # received (inbound): providers report nothing on those
        return False
    if new == "failed":
        return current in ("queued", "sent")
    return RANK[new] > RANK[current]


# The meta key of a failed delivery's code (ours, e.g. "not_configured", or the provider's):
# what the desktop says about the failure comes from it, never from the error's text.
FAILURE_CODE = "failure_code"


def with_failure_code(meta: dict[str, Any], code: str | int | None) -> dict[str, Any]:
    kept = {k: v for k, v in meta.items() if k != FAILURE_CODE}
    return kept if code is None else {**kept, FAILURE_CODE: str(code)}


def describe_error(code: str | None, text: str | None) -> str:
    if code and text:
        return f"{code}: {text}"
    return text or code or "failed"


async def apply_provider_status(
    session: AsyncSession,
    inbox_id: int,
    provider_message_id: str,
    status: str,
    *,
    code: str | int | None = None,
    text: str | None = None,
    at: datetime | None = None,
) -> Message | None:
    """Land a provider's delivery status on the message it names (or keep it until that
    message gets the id); None when it was kept."""
    notice = Notice(inbox_id, provider_message_id, status=status, code=code, text=text, at=at)
    [message] = await apply_notices(session, [notice])
    return message


def _status_notice(
    status: str, code: str | int | None, text: str | None, at: datetime | None
) -> dict[str, Any]:
    if status not in PROVIDER_STATUSES:
        raise Invalid(f"unknown delivery status {status!r}", code="invalid_status")
    return {
        "status": status,
        # NUL cannot be stored in PostgreSQL text or JSON; providers' texts are untrusted.
        "code": None if code is None else str(code).replace("\x00", "")[:100],
        "text": None if text is None else text.replace("\x00", "")[:1000],
        "at": (at or utcnow()).isoformat(),
    }


def _edit_notice(text: str, at: datetime) -> dict[str, Any]:
    return {"text": redact_cards(storable(text)), "at": at.isoformat()}


@dataclass
class Notice:
    """A provider's word about one message it names by its id: a delivery status (`status`,
    with the provider's error `code` and `text`) or, with `edit` set, the customer's edit
    (`text`, at `at`)."""

    inbox_id: int
    provider_message_id: str
    status: str | None = None
    code: str | int | None = None
    text: str | None = None
    at: datetime | None = None
    edit: bool = False

    def stored(self) -> dict[str, Any]:
        """What is kept of it (on the message, or until the message comes); raises Invalid
        for a status we do not know."""
        if self.edit:
            assert self.text is not None and self.at is not None
            return _edit_notice(self.text, self.at)
        return _status_notice(str(self.status), self.code, self.text, self.at)


async def apply_notices(session: AsyncSession, notices: Sequence[Notice]) -> list[Message | None]:
    """`apply_provider_status` / `apply_provider_edit` for many notices, in order, with one
    query for the messages they name (and one for those messages' conversations), as if they
    were applied one at a time: the message each landed on, or None when it was kept. Raises
    Invalid, before anything is written, if one names an unknown status."""
    stored = [notice.stored() for notice in notices]
    await repository.lock_provider_ids(
        session, {(n.inbox_id, n.provider_message_id) for n in notices}
    )
    found = await repository.find_by_provider_ids(
        session, {(n.inbox_id, n.provider_message_id) for n in notices}
    )
    await repository.get_conversations(session, {m.conversation_id for m in found.values()})
    applied: list[Message | None] = []
    for notice, kept in zip(notices, stored, strict=True):
        message = found.get((notice.inbox_id, notice.provider_message_id))
        if message is None:
            kind = "edit" if notice.edit else "status"
            _keep(session, notice.inbox_id, notice.provider_message_id, kind, kept)
        elif notice.edit:
            await _edit(session, message, kept)
        else:
            await _status(session, message, kept)
        applied.append(message)
    return applied


async def apply_watermark(
    session: AsyncSession,
    inbox_id: int,
    identity_ids: Sequence[int],
    status: str,
    *,
    until: datetime,
) -> int:
    """A provider's watermark (Messenger: "everything sent before this time was delivered /
    read") lands on every earlier outbound message to these identities; returns how many."""
    moved = 0
    for message in await repository.outbound_until(session, inbox_id, identity_ids, until):
        if moves_forward(message.delivery_status, status):
            await _status(session, message, {"status": status, "code": None, "text": None,
                                             "at": until.isoformat()})  # fmt: skip
            moved += 1
    return moved


async def apply_provider_edit(
    session: AsyncSession, inbox_id: int, provider_message_id: str, *, text: str, at: datetime
) -> Message | None:
    """The customer edited a message: its text becomes the newest version, every version is
    kept (meta.versions, the original first). Repeats are no-ops; None when it was kept for
    a message that has not arrived yet."""
    notice = Notice(inbox_id, provider_message_id, text=text, at=at, edit=True)
    [message] = await apply_notices(session, [notice])
    return message


async def settle_pending(
    session: AsyncSession,
    messages: Sequence[Message],
    *,
    locked: Collection[tuple[int, str]] = (),
) -> None:
    """Apply the notices kept for these messages' provider ids, oldest first, to the messages
    as this session holds them (a delivery wave's, written outside the ORM, are loaded here
    only when a notice waits for them). `locked`: the (inbox id, provider id) keys the
    caller's transaction has locked already (`repository.lock_provider_ids`): not locked
    again (one statement less per delivery wave)."""
    by_key = {(m.inbox_id, m.provider_message_id): m.id for m in messages if m.provider_message_id}
    if not by_key:
        return
    held = {(inbox_id, provider_id[:300]) for inbox_id, provider_id in locked}
    # See lock_provider_ids; the keys locked already are held until commit.
    await repository.lock_provider_ids(session, set(by_key) - held)
    rows = await repository.take_pending_updates(session, set(by_key))
    if not rows:
        return
    loaded = await repository.get_messages(
        session, {by_key[(row.inbox_id, row.provider_message_id)] for row in rows}
    )
    for row in rows:
        message = loaded[by_key[(row.inbox_id, row.provider_message_id)]]
        if row.kind == "status":
            await _status(session, message, row.payload)
        elif row.kind == "edit":
            await _edit(session, message, row.payload)


def _keep(
    session: AsyncSession, inbox_id: int, provider_id: str, kind: str, notice: dict[str, Any]
) -> None:
    session.add(
        PendingProviderUpdate(
            inbox_id=inbox_id, provider_message_id=provider_id[:300], kind=kind, payload=notice
        )
    )


async def _status(session: AsyncSession, message: Message, notice: dict[str, Any]) -> None:
    if message.direction != "outbound":
        return
    history = [*message.meta.get("statuses", []), notice][-HISTORY:]
    message.meta = {**message.meta, "statuses": history}
    new = notice["status"]
    if moves_forward(message.delivery_status, new):
        message.delivery_status = new
        if new == "failed":
            message.delivery_error = describe_error(notice.get("code"), notice.get("text"))
            message.meta = with_failure_code(message.meta, notice.get("code"))
        else:
            message.delivery_error = None
            if message.sent_at is None:
                message.sent_at = datetime.fromisoformat(notice["at"])
    await _updated(session, message)


async def _edit(session: AsyncSession, message: Message, notice: dict[str, Any]) -> None:
    versions: list[dict[str, Any]] = list(message.meta.get("versions") or [])
    if not versions:
        original = message.sent_at or message.created_at or utcnow()
        versions = [{"text": message.text, "at": original.isoformat()}]
    if any(v["at"] == notice["at"] and v["text"] == notice["text"] for v in versions):
        return
    versions = sorted([*versions, notice], key=lambda v: str(v["at"]))
    message.text = str(versions[-1]["text"])
    message.meta = {**message.meta, "versions": versions, "edited": True}
    await _updated(session, message)


async def _updated(session: AsyncSession, message: Message) -> None:
    conversation = await session.get(Conversation, message.conversation_id)
    assert conversation is not None
    record_message(session, message, conversation, "message.updated")


async def drop_stale_pending(session: AsyncSession) -> int:
    """Forget notices whose message never came (a provider id of another system)."""
    return await repository.drop_pending_updates(
        session, before=utcnow() - timedelta(days=PENDING_DAYS)
    )
