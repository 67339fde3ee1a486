"""Webchat visitors: sessions, messages in, read receipts, e-mail continuation, transcripts.
Everything a visitor says still goes through conversations.receive (dedupe, threading)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.channels.webchat import repository, tokens
from frontdesk.channels.webchat.adapter import webchat_channel
from frontdesk.channels.webchat.models import WebchatVisitor
from frontdesk.channels.webchat.schemas import (
    SessionRead,
    SessionStart,
    WidgetAttachment,
    WidgetButton,
    WidgetMessage,
)
from frontdesk.channels.webchat.tokens import VisitorClaims
from frontdesk.config import Settings
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.models import Message
from frontdesk.conversations.service import Received
from frontdesk.customers import repository as customers_repository
from frontdesk.customers import service as customers
from frontdesk.customers.schemas import IdentityCreate
from frontdesk.db import utcnow
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import Inbound, InboundAttachment
from frontdesk.kit import jobs, ratelimit
from frontdesk.kit.blobs import BlobStore
from frontdesk.kit.errors import (
    Conflict,
    Forbidden,
    FrontdeskError,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from frontdesk.kit.events import record
from frontdesk.kit.text import normalize_email

TRANSCRIPT_JOB = "webchat.transcript"
# Transcripts per minute: per visitor (a second try is fine, a loop is not) and per inbox
# (many throwaway visitors still cannot turn the widget into a mailer).
TRANSCRIPTS_PER_VISITOR = 2
TRANSCRIPTS_PER_INBOX = 30
TOKEN_EXPIRED = "token_expired"
# Messages this recent are replayed on reconnect even below the client's `since`.
REPLAY_SLACK = timedelta(seconds=10)


async def get_webchat_inbox(session: AsyncSession, inbox_id: int) -> Inbox:
    return webchat_inbox(await inboxes_repository.get_inbox(session, inbox_id))


def webchat_inbox(inbox: Inbox | None) -> Inbox:
    """The inbox if it is an active webchat inbox, else NotFound."""
    if inbox is None or not inbox.active or inbox.channel != "webchat":
        raise NotFound("chat not found", code="unknown_inbox")
    return inbox


def read_token(app: Settings, token: str | None, inbox_id: int | None = None) -> VisitorClaims:
    claims = tokens.read(app.secret_key, token)
    if claims is None or (inbox_id is not None and claims.inbox_id != inbox_id):
        raise Unauthorized("visitor token missing or invalid", code="bad_token")
    if tokens.expired(claims):
        raise Unauthorized("visitor token expired: start a new session", code=TOKEN_EXPIRED)
    return claims


def issue_token(app: Settings, claims: VisitorClaims) -> str:
    """A token for these claims, valid for the configured time from now (sliding expiry)."""
    return tokens.issue(app.secret_key, claims, ttl_seconds=app.webchat_token_days * 86400)


async def start_session(
    session: AsyncSession, inbox: Inbox, data: SessionStart, app: Settings
) -> SessionRead:
    """Issue (or renew) the signed token a browser keeps for this chat."""
    settings = webchat_channel.validate_settings(inbox.settings, app)
    previous = tokens.read(app.secret_key, data.token)
    if previous is not None and previous.inbox_id != inbox.id:
        previous = None
    # An expired token is never renewed: the browser starts over as a new anonymous visitor.
    expired = previous is not None and tokens.expired(previous)
    if expired:
        previous = None
    if data.user_id is not None:
        if not tokens.verify_user(inbox.secret, data.user_id, data.user_hash):
            raise Unauthorized("identity verification failed", code="bad_user_hash")
        # The same site user on any device is one visitor (and so one customer).
        digest = hashlib.sha256(f"{inbox.id}:{data.user_id}".encode()).hexdigest()[:40]
        claims = VisitorClaims(inbox.id, f"u{digest}", data.user_id)
    elif settings["identity_verification"]:
        raise Unauthorized("this chat is for signed-in users", code="verification_required")
    elif previous is not None and previous.user_id is None:
        claims = previous
    else:
        claims = VisitorClaims(inbox.id, "v" + secrets.token_urlsafe(18), None)
    visitor = await repository.get_visitor(session, claims.key)
    if visitor is None:
        visitor = WebchatVisitor(
            inbox_id=inbox.id, key=claims.key, user_id=claims.user_id, prechat={}
        )
        session.add(visitor)
    if data.name:
        visitor.name = data.name.strip()[:300] or visitor.name
    if data.email:
        visitor.email = normalize_email(data.email)
    visitor.last_seen_at = utcnow()
    await session.flush()
    return SessionRead(
        token=issue_token(app, claims),
        expired=expired,
        verified=claims.user_id is not None,
        name=visitor.name,
        email=visitor.email,
    )


@dataclass(frozen=True, slots=True)
class VisitorInfo:
    """What a socket remembers of its visitor, so a message costs no visitor lookup."""

    name: str | None
    email: str | None


async def visitor_info(session: AsyncSession, claims: VisitorClaims) -> VisitorInfo:
    visitor = await repository.get_visitor(session, claims.key)
    return VisitorInfo(visitor.name, visitor.email) if visitor else VisitorInfo(None, None)


async def customer_id_of(session: AsyncSession, claims: VisitorClaims) -> int | None:
    identity = await customers_repository.find_identity(session, "webchat", claims.address)
    return identity.customer_id if identity else None


@dataclass(frozen=True)
class VisitorMessage:
    """One message a visitor typed, parsed and checked at the edge, ready for the intake."""

    inbound: Inbound
    # The address the visitor gave (pre-chat form): it becomes an e-mail identity of the
    # customer in the transaction that stores the message.
    email: str | None


def visitor_message_in(
    inbox: Inbox,
    claims: VisitorClaims,
    *,
    client_id: str,
    text: str,
    app: Settings,
    visitor: VisitorInfo,
    attachments: Sequence[InboundAttachment] = (),
) -> VisitorMessage:
    """Parse one visitor frame (no database): bad ids, oversize or empty text are refused."""
    frame = {"id": client_id, "text": text, "from": claims.address}
    if visitor.name:
        frame["name"] = visitor.name
    inbound = webchat_channel.parse_inbound(inbox, json.dumps(frame).encode(), app)
    inbound.attachments = list(attachments)
    if not inbound.text.strip() and not inbound.attachments:
        raise Invalid("a message needs text or a file", code="empty_message")
    return VisitorMessage(inbound, visitor.email)


async def receive_visitor_messages(
    session: AsyncSession, items: list[VisitorMessage], *, blobs: BlobStore
) -> list[Received | FrontdeskError]:
    """Store a batch of visitor messages (one per client id) in order. The caller commits."""
    outcomes = await conversations.receive_many(
        session, [item.inbound for item in items], blobs=blobs
    )
    attached: set[tuple[int, str]] = set()
    for item, outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, Received) and not outcome.duplicate and item.email:
            key = (outcome.message.customer_id, item.email)
            if key not in attached:
                attached.add(key)
                await _attach_email(session, *key)
    return outcomes


async def receive_message(
    session: AsyncSession,
    inbox: Inbox,
    claims: VisitorClaims,
    *,
    client_id: str,
    text: str,
    attachments: Sequence[InboundAttachment] = (),
    blobs: BlobStore,
    app: Settings,
    visitor: VisitorInfo | None = None,
) -> Received:
    """Store what the visitor typed, once per client-generated id. The caller commits."""
    if visitor is None:
        visitor = await visitor_info(session, claims)
    item = visitor_message_in(
        inbox,
        claims,
        client_id=client_id,
        text=text,
        app=app,
        visitor=visitor,
        attachments=attachments,
    )
    [outcome] = await receive_visitor_messages(session, [item], blobs=blobs)
    if isinstance(outcome, FrontdeskError):
        raise outcome
    return outcome


async def _attach_email(session: AsyncSession, customer_id: int, email: str) -> bool:
    """Give the customer the e-mail identity the visitor typed, unless another customer owns
    it (an anonymous visitor must not take over someone's record: agents merge by hand)."""
    customer = await customers_repository.get_customer(session, customer_id)
    assert customer is not None
    try:
        await customers.add_identity(session, customer, IdentityCreate(address=email))
    except Conflict:
        return False
    return True


async def mark_read(session: AsyncSession, *, inbox_id: int, customer_id: int, up_to: int) -> int:
    """The visitor has seen every reply up to `up_to`: those messages become `read`."""
    unread = await repository.unread_outbound(
        session, inbox_id=inbox_id, customer_id=customer_id, up_to=up_to
    )
    for message in unread:
        await conversations.mark_delivered(session, message, status="read", remote_id=None)
    return len(unread)


async def continue_by_email(
    session: AsyncSession,
    inbox: Inbox,
    claims: VisitorClaims,
    *,
    email: str,
    text: str,
    client_id: str,
    blobs: BlobStore,
    app: Settings,
) -> Received:
    """No agent online: the visitor leaves an address. It becomes an e-mail identity of the
    same customer and the message is stored on it, so the reply goes out by e-mail — in the
    same conversation, on a second channel."""
    address = normalize_email(email)
    visitor = await repository.get_visitor(session, claims.key)
    if visitor is not None:
        visitor.email = address
    customer_id = await customer_id_of(session, claims)
    if customer_id is None:
        customer, _ = await customers.resolve(
            session, kind="webchat", address=claims.address, name=visitor.name if visitor else None
        )
        customer_id = customer.id
    owned = await _attach_email(session, customer_id, address)
    frame = {"id": client_id, "text": text or "(left an e-mail address)", "from": claims.address}
    inbound = webchat_channel.parse_inbound(inbox, json.dumps(frame).encode(), app)
    inbound.meta["reply_by_email"] = address
    if owned:
        inbound.address = address
    return await conversations.receive(session, inbound, blobs=blobs)


async def request_transcript(
    session: AsyncSession,
    inbox: Inbox,
    claims: VisitorClaims,
    *,
    email: str | None,
    request_id: str,
) -> str:
    """Queue the chat's transcript for e-mail; answers the address it will go to. Only to the
    visitor's own address: one that their customer record holds (given in the pre-chat form
    or when continuing by e-mail, and never another customer's), a few times a minute, so
    the widget cannot be used to mail anyone else."""
    visitor = await repository.get_visitor(session, claims.key)
    address = normalize_email(email) if email else (visitor.email if visitor else None)
    if not address:
        raise Invalid("an e-mail address is needed", code="email_required")
    customer_id = await customer_id_of(session, claims)
    if customer_id is None:
        raise NotFound("there is no conversation yet", code="no_conversation")
    own = await customers_repository.find_identity(session, "email", address)
    if own is None or own.customer_id != customer_id:
        raise Forbidden("transcripts go only to your own e-mail address", code="not_your_address")
    for key, limit in (
        (f"transcript:{claims.key}", TRANSCRIPTS_PER_VISITOR),
        (f"transcript-inbox:{inbox.id}", TRANSCRIPTS_PER_INBOX),
    ):
        if wait := await ratelimit.take(session, key, limit=limit):
            raise TooManyRequests(
                "too many transcripts: try again in a minute", retry_after=wait, code="rate_limited"
            )
    await jobs.enqueue(
        session,
        TRANSCRIPT_JOB,
        {"inbox_id": inbox.id, "customer_id": customer_id, "email": address},
        key=f"transcript:{claims.key}:{request_id}",
        max_attempts=3,
    )
    record(
        session,
        "webchat.transcript_requested",
        {"customer_id": customer_id, "email": address},
        inbox_id=inbox.id,
        customer_id=customer_id,
    )
    return address


async def history(
    session: AsyncSession, *, inbox_id: int, customer_id: int, after: int
) -> Sequence[Message]:
    return await repository.visitor_messages(
        session,
        inbox_id=inbox_id,
        customer_id=customer_id,
        after=after,
        recent_since=utcnow() - REPLAY_SLACK,
    )


def visitor_message(message: Message) -> WidgetMessage:
    """A text message the visitor just sent, as the widget shows it (no lookups needed)."""
    return WidgetMessage(
        id=message.id,
        client_id=(message.meta or {}).get("client_id"),
        direction=message.direction,
        author="visitor",
        author_name=None,
        text=message.text,
        status=message.delivery_status,
        at=message.created_at.isoformat(),
        attachments=[],
        call=call_card(message),
    )


def call_card(message: Message) -> dict[str, Any] | None:
    """The public part of a call's state (no agent ids, numbers or transcripts)."""
    call = (message.meta or {}).get("call")
    if message.kind != "call" or not isinstance(call, dict):
        return None
    return {
        "media": call.get("media", "audio"),
        "status": call.get("status", "ringing"),
        "duration_seconds": call.get("duration_seconds"),
        "recorded": bool(call.get("recorded")),
    }


async def widget_messages(
    session: AsyncSession, messages: Sequence[Message], *, token: str
) -> list[WidgetMessage]:
    """What the visitor sees of messages: no internal fields, agents by first name only."""
    # A call's recording is the agent's record, not a file for the visitor.
    attachments = await conversations_repository.attachments_of(
        session, [m.id for m in messages if m.kind != "call"]
    )
    files: dict[int | None, list[WidgetAttachment]] = {}
    for item in attachments:
        files.setdefault(item.message_id, []).append(
            WidgetAttachment(
                id=item.id,
                name=item.filename,
                type=item.content_type,
                size=item.size,
                url=f"/widget/api/attachments/{item.id}?token={token}",
            )
        )
    names: dict[int, str] = {}
    result = []
    for m in messages:
        author_name = None
        if m.author_agent_id is not None:
            if m.author_agent_id not in names:
                agent = await auth_repository.get_agent(session, m.author_agent_id)
                names[m.author_agent_id] = agent.name.split(" ")[0] if agent else ""
            author_name = names[m.author_agent_id] or None
        result.append(
            WidgetMessage(
                id=m.id,
                client_id=(m.meta or {}).get("client_id"),
                direction=m.direction,
                author="visitor" if m.direction == "inbound" else m.author_kind,
                author_name=author_name,
                text=m.text,
                status=m.delivery_status,
                at=m.created_at.isoformat(),
                attachments=files.get(m.id, []),
                survey=_survey_card(m),
                buttons=[
                    WidgetButton(id=str(b.get("id", "")), title=str(b.get("title", "")))
                    for b in ((m.meta or {}).get("interactive") or {}).get("buttons", [])
                    if m.direction == "outbound"
                ],
                call=call_card(m),
            )
        )
    return result


def _survey_card(message: Message) -> dict[str, Any] | None:
    card = (message.meta or {}).get("survey")
    if message.direction != "outbound" or not isinstance(card, dict) or "token" not in card:
        return None
    return card
