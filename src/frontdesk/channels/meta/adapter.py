"""The Messenger and Instagram adapters: one webhook notification → typed events (messages,
postbacks, echoes, deliveries, reads, public comments); replies out through the Send API, or
as public comment replies on a public conversation."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from frontdesk.channels.meta.client import GraphApi, GraphError
from frontdesk.channels.meta.schemas import (
    Change,
    FeedComment,
    InstagramComment,
    Messaging,
    MetaSettings,
    Notification,
)
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import (
    Capabilities,
    ConnectionCheck,
    Inbound,
    Outbound,
    PermanentSendError,
    RateLimited,
    SendResult,
    provider_refused,
    provider_unreachable,
)
from frontdesk.kit.errors import FrontdeskError, Invalid
from frontdesk.kit.security import check_outbound_url

SIGNATURE_HEADER = "x-hub-signature-256"
# The Send API's message tag that lets a person answer up to 7 days after the customer wrote.
HUMAN_AGENT_DAYS = 7
# Our idempotency key travels as the message's `metadata` and comes back on its echo.
OURS = "frontdesk-message-"
DM_THREAD = "dm"
COMMENT_THREAD = "comment:"
MEDIA_TYPES = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg",
               "file": "application/octet-stream"}  # fmt: skip


@dataclass
class MediaRef:
    url: str
    kind: str  # image | video | audio | file | story_mention
    filename: str


@dataclass
class Incoming:
    """A message, postback, echo or public comment to store (after its files are fetched)."""

    inbound: Inbound
    media: list[MediaRef] = field(default_factory=list)
    # An echo: stored only if it is not the echo of a message we sent.
    echo: bool = False


@dataclass
class Status:
    mid: str | None
    status: str  # delivered | read
    at: datetime
    # A watermark: every earlier outbound message to this address.
    address: str | None = None


@dataclass
class Parsed:
    incoming: list[Incoming] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    ignored: int = 0


def _when(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def read_notification(body: bytes) -> Notification:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrontdeskError(f"body is not valid JSON: {exc}", code="malformed_json") from exc
    try:
        return Notification.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc) from exc


def _invalid(exc: ValidationError) -> Invalid:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return Invalid(f"{where}: {first['msg']}", code="invalid_payload")


class MetaChannel:
    """One of the two channels; `platform` is the webhook `object` it takes."""

    handle_kind: str
    capabilities = Capabilities(media=True, read_receipts=True, reply_window=timedelta(hours=24))
    # Direct messages thread under this key; comment threads have their own.
    direct_thread = DM_THREAD

    def __init__(self, channel: str, platform: str, text_limit: int) -> None:
        self.channel = self.handle_kind = channel
        self.platform = platform
        self.text_limit = text_limit

    def validate_settings(self, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
        try:
            parsed = MetaSettings.model_validate(settings)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise Invalid(f"settings.{where}: {first['msg']}", code="invalid_settings") from exc
        check_outbound_url(parsed.api_base_url, allow_private=app.allow_private_webhooks)
        if parsed.verify_token is None:
            parsed.verify_token = secrets.token_urlsafe(24)
        return parsed.model_dump()

    def webhook_path(self, inbox: Inbox) -> str:
        return f"/webhooks/meta/{inbox.id}"

    async def check_connection(self, inbox: Inbox, app: Settings) -> ConnectionCheck:
        """Test connection: the Page (GET /{page_id}) as the Graph API shows it to the Page
        token (an Instagram account is reached through its linked Page, so the same call)."""
        try:
            page = await GraphApi(inbox.settings, app).get(
                str(inbox.settings.get("page_id")), {"fields": "id,name"}
            )
        except GraphError as exc:
            raise provider_refused(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise provider_unreachable(exc) from exc
        facts = {"page_name": str(page["name"])} if page.get("name") else {}
        return ConnectionCheck(ok=True, detail=facts.get("page_name"), facts=facts)

    def verify(self, inbox: Inbox, headers: dict[str, str], body: bytes) -> bool:
        """X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of the raw body with the app secret."""
        secret = str(inbox.settings.get("app_secret") or "")
        given = headers.get(SIGNATURE_HEADER) or ""
        if not secret or not given.startswith("sha256="):
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given[7:].strip().lower().encode(), expected.encode())

    def parse_inbound(self, inbox: Inbox, body: bytes, app: Settings) -> Inbound:
        parsed = self.parse(inbox, read_notification(body))
        if not parsed.incoming:
            raise Invalid("this notification carries no new message", code="invalid_payload")
        return parsed.incoming[0].inbound

    # --- webhook → events -------------------------------------------------------------

    def parse(self, inbox: Inbox, note: Notification) -> Parsed:
        if note.object != self.platform:
            raise Invalid(
                f"object {note.object!r} is not for a {self.channel} inbox", code="wrong_object"
            )
        page_ids = {str(inbox.settings.get("page_id") or "")}
        out = Parsed()
        for entry in note.entry:
            page_ids.add(entry.id)
            for item in entry.messaging:
                self._messaging(inbox, item, page_ids, out)
            for change in entry.changes:
                self._change(inbox, change, page_ids, out)
        return out

    def _messaging(self, inbox: Inbox, item: Messaging, pages: set[str], out: Parsed) -> None:
        at = _when(item.timestamp) or datetime.now(UTC)
        if item.delivery is not None:
            for mid in item.delivery.mids:
                out.statuses.append(Status(mid, "delivered", at))
            if item.delivery.watermark and not item.delivery.mids:
                mark = _when(item.delivery.watermark) or at
                out.statuses.append(Status(None, "delivered", mark, address=item.sender.id))
            return
        if item.read is not None:
            if item.read.mid:
                out.statuses.append(Status(item.read.mid, "read", at))
            else:
                mark = _when(item.read.watermark) or at
                out.statuses.append(Status(None, "read", mark, address=item.sender.id))
            return
        if item.message is not None:
            out.incoming.append(self._message(inbox, item, at))
        elif item.postback is not None:
            postback = item.postback
            mid = postback.mid or f"postback:{item.sender.id}:{item.timestamp}"
            out.incoming.append(
                Incoming(
                    Inbound(
                        inbox_id=inbox.id,
                        external_id=mid,
                        provider_message_id=mid,
                        address=item.sender.id,
                        text=postback.title or postback.payload or "",
                        sent_at=at,
                        thread=DM_THREAD,
                        meta={self.channel: {"postback": postback.payload}},
                    )
                )
            )
        else:
            out.ignored += 1

    def _message(self, inbox: Inbox, item: Messaging, at: datetime) -> Incoming:
        message = item.message
        assert message is not None
        meta: dict[str, Any] = {}
        if message.quick_reply:
            meta["quick_reply"] = message.quick_reply.get("payload")
        media: list[MediaRef] = []
        for number, attachment in enumerate(message.attachments, start=1):
            url = attachment.payload.url if attachment.payload else None
            if attachment.type == "story_mention":
                meta["story_mention"] = {"url": url}
            elif attachment.type in MEDIA_TYPES and url:
                media.append(MediaRef(url, attachment.type, f"{attachment.type}-{number}"))
            else:
                meta.setdefault("other_attachments", []).append(attachment.type)
        if message.reply_to is not None and message.reply_to.story is not None:
            story = message.reply_to.story
            meta["story_reply"] = {"id": story.id, "url": story.url}
        elif message.reply_to is not None and message.reply_to.mid:
            meta["reply_to"] = message.reply_to.mid
        text = message.text or ""
        if not text and "story_mention" in meta:
            text = "[story mention]"
        echo = message.is_echo
        if echo:
            meta.update(source="page_inbox", app_id=message.app_id, metadata=message.metadata)
        return Incoming(
            Inbound(
                inbox_id=inbox.id,
                external_id=message.mid,
                provider_message_id=message.mid,
                # An echo goes from the Page to the customer: the customer is its recipient.
                address=item.recipient.id if echo else item.sender.id,
                text=text,
                sent_at=at,
                thread=DM_THREAD,
                author_kind="agent" if echo else "customer",
                meta={self.channel: meta} if meta else {},
            ),
            media=media,
            echo=echo,
        )

    def _change(self, inbox: Inbox, change: Change, pages: set[str], out: Parsed) -> None:
        try:
            if change.field == "feed" and self.platform == "page":
                if change.value.get("item") != "comment":
                    out.ignored += 1
                    return
                comment = self._feed_comment(inbox, FeedComment.model_validate(change.value))
            elif change.field == "comments" and self.platform == "instagram":
                comment = self._ig_comment(inbox, InstagramComment.model_validate(change.value))
            else:
                out.ignored += 1
                return
        except ValidationError as exc:
            raise _invalid(exc) from exc
        if comment is None or comment.address in pages:  # our own replies come back too
            out.ignored += 1
        else:
            out.incoming.append(Incoming(comment))

    def _feed_comment(self, inbox: Inbox, value: FeedComment) -> Inbound | None:
        if value.verb != "add":
            return None
        link = (value.post or {}).get(
            "permalink_url"
        ) or f"https://www.facebook.com/{value.post_id}"
        # A top-level comment's parent is the post; a reply's parent is the comment it answers.
        root = value.parent_id if value.parent_id and value.parent_id != value.post_id else None
        sent = value.created_time
        at = datetime.fromtimestamp(sent, UTC) if isinstance(sent, int) else None
        return self._comment(
            inbox, value.comment_id, value.sender.id, value.sender.name, value.message or "",
            root=root, at=at,
            public={"platform": "facebook", "post_id": value.post_id, "post_link": link},
        )  # fmt: skip

    def _ig_comment(self, inbox: Inbox, value: InstagramComment) -> Inbound:
        media = value.media or {}
        return self._comment(
            inbox, value.id, value.sender.id, value.sender.username, value.text or "",
            root=value.parent_id, at=None,
            public={"platform": "instagram", "media_id": media.get("id"),
                    "post_link": media.get("permalink")},
        )  # fmt: skip

    def _comment(
        self, inbox: Inbox, comment_id: str, author: str, name: str | None, text: str, *,
        root: str | None, at: datetime | None, public: dict[str, Any],
    ) -> Inbound:  # fmt: skip
        return Inbound(
            inbox_id=inbox.id,
            external_id=f"{COMMENT_THREAD}{comment_id}",
            provider_message_id=comment_id,
            address=author,
            name=name,
            text=text,
            sent_at=at,
            # One public conversation per top-level comment and the replies under it.
            thread=f"{COMMENT_THREAD}{root or comment_id}",
            tags=["public"],
            meta={"public": {**public, "comment_id": comment_id, "parent_id": root}},
        )

    # --- the reply window ---------------------------------------------------------------

    def window_applies(self, thread: str | None) -> bool:
        """Public comment threads are answered in public: no messaging window there."""
        return not (thread or "").startswith(COMMENT_THREAD)

    def outside_window(self, inbox: Inbox, elapsed: timedelta) -> dict[str, Any] | None:
        """Up to 7 days a person may still answer with the HUMAN_AGENT tag; then nothing."""
        if elapsed <= timedelta(days=HUMAN_AGENT_DAYS):
            return {"message_tag": "HUMAN_AGENT"}
        return None

    # --- out ------------------------------------------------------------------------------

    async def send(self, inbox: Inbox, outbound: Outbound, app: Settings) -> SendResult:
        api = GraphApi(inbox.settings, app)
        try:
            if (outbound.thread or "").startswith(COMMENT_THREAD) and not outbound.meta.get(
                "private_reply"
            ):
                return await self._comment_reply(api, outbound)
            return await self._send_message(api, inbox, outbound)
        except GraphError as exc:
            if exc.throttled:
                raise RateLimited(exc.retry_after or 60.0, f"Graph API: {exc}") from exc
            if exc.permanent:
                raise PermanentSendError(exc.message, code=exc.code or exc.status) from exc
            raise

    async def _comment_reply(self, api: GraphApi, outbound: Outbound) -> SendResult:
        target = outbound.meta.get("comment_id") or outbound.in_reply_to or ""
        comment_id = target.removeprefix(COMMENT_THREAD)
        if not comment_id or not outbound.text.strip():
            raise PermanentSendError("a public reply needs a comment and text")
        edge = "replies" if self.platform == "instagram" else "comments"
        answer = await api.post(f"{comment_id}/{edge}", {"message": outbound.text.strip()})
        return SendResult(status="sent", external_id=str(answer.get("id") or "") or None)

    async def _send_message(self, api: GraphApi, inbox: Inbox, outbound: Outbound) -> SendResult:
        private = outbound.meta.get("private_reply")
        recipient = (
            {"comment_id": private["comment_id"]} if private else {"id": outbound.to_address}
        )
        base: dict[str, Any] = {"recipient": recipient, "messaging_type": "RESPONSE"}
        tag = outbound.meta.get("message_tag")
        if tag:
            base.update(messaging_type="MESSAGE_TAG", tag=tag)
        path = f"{inbox.settings.get('page_id')}/messages"
        ids: list[str] = []
        text = outbound.text.strip()
        for start in range(0, len(text), self.text_limit):
            chunk = text[start : start + self.text_limit]
            message: dict[str, Any] = {"text": chunk, "metadata": outbound.idempotency_key}
            ids.append(_mid(await api.post(path, {**base, "message": message})))
            if private:  # a private reply is one message; the rest waits for their answer
                break
        for item in [] if private and ids else outbound.attachments:
            kind = item.content_type.split("/")[0]
            kind = kind if kind in ("image", "video", "audio") else "file"
            message = {
                "attachment": {"type": kind, "payload": {"is_reusable": False}},
                "metadata": outbound.idempotency_key,
            }
            answer = await api.post(
                path,
                {**base, "message": message},
                files={"filedata": (item.filename, item.data, item.content_type)},
            )
            ids.append(_mid(answer))
        if not ids:
            raise PermanentSendError("nothing to send")
        return SendResult(status="sent", external_id=ids[0])


def _mid(answer: dict[str, Any]) -> str:
    return str(answer.get("message_id") or "")


# Messenger takes 2000 characters per text message, Instagram 1000.
messenger_channel = MetaChannel("messenger", "page", 2000)
instagram_channel = MetaChannel("instagram", "instagram", 1000)
CHANNELS: dict[str, MetaChannel] = {c.channel: c for c in (messenger_channel, instagram_channel)}
