"""Opt-out keywords on SMS-like channels: STOP / START are recorded on the sender's identity
(customers.set_opt_out) and HELP is answered with the inbox's help text. The keyword message
itself is stored on the timeline like any other."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations import repository
from frontdesk.conversations.ingest import Ingestor, stored_or_refused
from frontdesk.conversations.receiving import Received, receive
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.conversations.service import reply, send_refusal
from frontdesk.customers import repository as customers_repository
from frontdesk.customers import service as customers
from frontdesk.customers.models import OptOut
from frontdesk.db import Database
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.port import Inbound, Refusal
from frontdesk.kit import uow
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.sms import Keyword, keyword_of


async def apply_keyword(
    session: AsyncSession, received: Received, *, scope: str, help_text: str | None
) -> Keyword | None:
    """Act on a keyword the customer just sent (in the caller's transaction). A repeat
    delivery of the same message acts no more: a retried STOP must not undo a later START."""
    message = received.message
    keyword = keyword_of(message.text or "")
    if keyword is None or received.duplicate or message.identity_id is None:
        return None
    identity = await customers_repository.get_identity(session, message.identity_id)
    if identity is None:
        return None
    if keyword in ("stop", "start"):
        await customers.set_opt_out(
            session,
            identity,
            scope=scope,
            opted_out=keyword == "stop",
            keyword=message.text.strip(),
            inbox_id=message.inbox_id,
            message_id=message.id,
        )
        return keyword
    await _answer_help(session, received, help_text)
    return keyword


async def _answer_help(session: AsyncSession, received: Received, help_text: str | None) -> None:
    message = received.message
    if not help_text or not help_text.strip():
        return
    inbox = await inboxes_repository.get_inbox(session, message.inbox_id)
    identity = await customers_repository.get_identity(session, message.identity_id or 0)
    conversation = await repository.get_conversation(session, message.conversation_id)
    if inbox is None or identity is None or conversation is None:
        return
    if await send_refusal(session, inbox, identity.address) is not None:
        return  # an opted-out number gets no help text from us either
    await reply(
        session,
        conversation,
        author=None,
        data=ReplyCreate(text=help_text.strip(), identity_id=identity.id),
        author_kind="system",
    )


async def opt_out_refusal(session: AsyncSession, address: str, *, scope: str) -> Refusal | None:
    """The refusal (code `opted_out`) for a phone number whose customer sent STOP on this
    medium and has not sent START since; None when it may be messaged."""
    row = await customers.opted_out(session, kind="phone", address=address, scope=scope)
    return None if row is None else _opted_out(address, row, scope)


async def opt_out_refusals(
    session: AsyncSession, addresses: Collection[str], *, scope: str
) -> dict[str, Refusal]:
    """`opt_out_refusal` for a batch of phone numbers at once (one query): {address: refusal}
    for those that may not be messaged."""
    found = await customers_repository.opt_outs_of_addresses(session, "phone", addresses, scope)
    return {address: _opted_out(address, row, scope) for address, row in found}


def _opted_out(address: str, row: OptOut, scope: str) -> Refusal:
    when = row.changed_at.strftime("%Y-%m-%d %H:%M UTC")
    return Refusal(
        f"{address} opted out of {scope.upper()} on {when} by sending {row.keyword!r}; "
        "they must send START before they can be messaged again",
        code="opted_out",
    )


async def receive_text(
    db: Database,
    ingestor: Ingestor,
    inbound: Inbound,
    *,
    blobs: BlobStore,
    scope: str,
    help_text: str | None,
) -> Received:
    """Store an inbound SMS exactly once. A keyword message is stored together with what it
    does (opt-out recorded, help answer queued) in one transaction; anything else takes the
    group-commit path. What cannot be stored is refused as `stored_or_refused` says."""
    if keyword_of(inbound.text) is None:
        return await ingestor.take(inbound)

    async def keyword() -> Received:
        async with db.session() as session:

            async def work() -> Received:
                received = await receive(session, inbound, blobs=blobs)
                await apply_keyword(session, received, scope=scope, help_text=help_text)
                return received

            return await uow.retrying(session, work)

    return await stored_or_refused(keyword(), inbound)
