"""Taking Graph API webhooks in: files fetched first (outside any transaction), profiles
asked for once per sender, then messages stored exactly once (echoes of our own sends
matched and dropped), and deliveries / reads landed on our messages (or kept until the send
returns the id they name)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.channels.meta.adapter import (
    OURS,
    Incoming,
    MediaRef,
    MetaChannel,
    Parsed,
    Status,
    read_notification,
)
from frontdesk.channels.meta.client import GraphApi, GraphError
from frontdesk.config import Settings
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.delivery import Notice
from frontdesk.customers import repository as customers_repository
from frontdesk.customers import service as customers
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import InboundAttachment
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError
from frontdesk.kit.security import safe_filename

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

log = logging.getLogger(__name__)


class ProviderUnavailable(FrontdeskError):
    """Meta could not give us a file now: answering 502 makes it deliver the notification
    again later (nothing was stored)."""

    status = 502
    code = "provider_unavailable"


@dataclass
class Taken:
    stored: int = 0
    duplicate: int = 0
    statuses: int = 0
    ignored: int = 0
    message_ids: list[int] = field(default_factory=list)
    # Events of the delivery refused alone for good (mid, why): reported, never retried.
    refused: list[tuple[str, FrontdeskError]] = field(default_factory=list)


async def take_webhook(runtime: Runtime, inbox: Inbox, channel: MetaChannel, body: bytes) -> Taken:
    """One webhook delivery: every event in it stored (or recognised as a repeat) once
    committed; a repeat of the whole delivery stores nothing new."""
    parsed: Parsed = channel.parse(inbox, read_notification(body))
    taken = Taken(ignored=parsed.ignored)
    api = GraphApi(inbox.settings, runtime.settings)
    for incoming in parsed.incoming:
        if incoming.echo and await _ours(runtime, inbox, incoming):
            taken.ignored += 1
            continue
        await _fetch_media(api, incoming, runtime.settings)
        profile = await _profile(runtime, api, inbox, channel, incoming)
        try:
            received = await runtime.ingestor.take(incoming.inbound)
        except FrontdeskError as exc:
            if exc.status >= 500:  # temporary: the whole delivery comes again (deduplicated)
                raise
            taken.refused.append((incoming.inbound.external_id, exc))
            continue
        taken.message_ids.append(received.message.id)
        if received.duplicate:
            taken.duplicate += 1
        else:
            taken.stored += 1
        if profile is not None and not received.duplicate:
            await _remember_profile(runtime, channel, incoming.inbound.address, profile)
    if parsed.statuses:
        await _statuses(runtime, inbox, channel, parsed.statuses)
        taken.statuses = len(parsed.statuses)
    return _refused_alone(taken, inbox)


def _refused_alone(taken: Taken, inbox: Inbox) -> Taken:
    """A delivery whose every event was refused is refused (422, as a single one is); one
    with good events too is answered 200 so Meta does not deliver it again, and the refused
    ones are reported (log, metric, the answer's `refused`), never silently lost."""
    for mid, exc in taken.refused:
        log.error("%s inbox %s: event %r refused: %s", inbox.channel, inbox.id, mid, exc.message)
    if taken.refused and not (taken.stored or taken.duplicate or taken.statuses or taken.ignored):
        raise taken.refused[0][1]
    return taken


async def _ours(runtime: Runtime, inbox: Inbox, incoming: Incoming) -> bool:
    """The echo of a message Frontdesk sent: our key in its metadata, or its mid on ours."""
    meta = incoming.inbound.meta.get(inbox.channel, {})
    message = incoming.inbound
    if str(meta.get("metadata") or "").startswith(OURS):
        return True
    async with runtime.db.session() as session:
        found = await conversations_repository.find_message_by_provider_id(
            session, inbox.id, message.provider_message_id or ""
        )
        await session.commit()
    return found is not None and found.external_id != message.external_id


async def _fetch_media(api: GraphApi, incoming: Incoming, app: Settings) -> None:
    missing: list[str] = []
    for ref in incoming.media:
        attachment = await _download(api, ref, app)
        if attachment is None:
            missing.append(ref.filename)
        else:
            incoming.inbound.attachments.append(attachment)
    inbound = incoming.inbound
    if missing:
        inbound.meta = {**inbound.meta, "missing_files": missing}
    if not inbound.text and not inbound.attachments:
        inbound.text = "[file not available]" if missing else "[empty message]"


async def _download(api: GraphApi, ref: MediaRef, app: Settings) -> InboundAttachment | None:
    try:
        kind, data = await api.download(ref.url, max_bytes=app.max_attachment_bytes)
    except GraphError as exc:
        if exc.permanent:  # expired CDN link, too large: noted on the message
            log.info("meta file %s not taken: %s", ref.url, exc)
            return None
        raise ProviderUnavailable(f"file download failed: {exc}") from exc
    except FrontdeskError:
        raise
    except Exception as exc:  # network: Meta retries the webhook
        raise ProviderUnavailable(f"file download failed: {exc}") from exc
    if kind == "application/octet-stream" and ref.kind != "file":
        kind = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg"}[ref.kind]
    return InboundAttachment(safe_filename(ref.filename, kind) or ref.filename, kind, data)


@dataclass
class Profile:
    name: str | None
    picture_url: str | None


async def _profile(
    runtime: Runtime, api: GraphApi, inbox: Inbox, channel: MetaChannel, incoming: Incoming
) -> Profile | None:
    """The sender's name and picture from the Graph API, asked once per identity (cached on
    it); a refusal (Instagram without the permission, a deleted user) is not an error."""
    inbound = incoming.inbound
    if not inbox.settings.get("fetch_profiles", True) or inbound.tags:
        return None
    async with runtime.db.session() as session:
        identity = await customers_repository.find_identity(
            session, channel.handle_kind, inbound.address
        )
        await session.commit()
    if identity is not None and identity.name:
        return None
    fields = "name,profile_pic" if channel.platform == "page" else "name,username,profile_pic"
    try:
        answer = await api.get(inbound.address, {"fields": fields})
    except Exception as exc:  # best effort: the message matters more than the picture
        log.info("no profile for %s: %s", inbound.address, exc)
        return None
    name = answer.get("name") or answer.get("username")
    profile = Profile(str(name) if name else None, answer.get("profile_pic"))
    if profile.name and not inbound.name:
        inbound.name = profile.name
    return profile


async def _remember_profile(
    runtime: Runtime, channel: MetaChannel, address: str, profile: Profile
) -> None:
    async with runtime.db.session() as session:

        async def work() -> None:
            await customers.set_identity_profile(
                session, channel.handle_kind, address,
                name=profile.name, picture_url=profile.picture_url,
            )  # fmt: skip

        await uow.retrying(session, work)


async def _statuses(
    runtime: Runtime, inbox: Inbox, channel: MetaChannel, statuses: list[Status]
) -> None:
    """Receipts naming their messages ride the ingest batches (one query for all of them);
    watermarks (everything before a time, to one person) take a transaction of their own."""
    await runtime.ingestor.apply(
        [Notice(inbox.id, s.mid, s.status, at=s.at) for s in statuses if s.mid]
    )
    watermarks = [status for status in statuses if not status.mid and status.address]
    if watermarks:
        async with runtime.db.session() as session:
            await uow.retrying(session, lambda: _watermarks(session, inbox, channel, watermarks))


async def _watermarks(
    session: AsyncSession, inbox: Inbox, channel: MetaChannel, statuses: list[Status]
) -> None:
    for status in statuses:
        assert status.address is not None
        identity = await customers_repository.find_identity(
            session, channel.handle_kind, status.address
        )
        if identity is not None:
            await conversations.apply_watermark(
                session, inbox.id, [identity.id], status.status, until=status.at
            )
