"""The inbox settings of a Facebook Page (Messenger) or an Instagram professional account,
and the parts of the Graph API webhook notifications we read
(developers.facebook.com/docs/messenger-platform/webhooks); unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

DEFAULT_API = "https://graph.facebook.com/v21.0"


def _text_id(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# Graph ids are strings of digits; some payloads send them as JSON numbers.
GraphId = Annotated[str, BeforeValidator(_text_id), Field(min_length=1, max_length=200)]


class MetaSettings(BaseModel):
    """A Page (or the Instagram account linked to it) connected through a Meta app. The app's
    webhook subscription calls `webhook_url`: GET with `verify_token` to subscribe, POST
    signed with `app_secret` (X-Hub-Signature-256)."""

    model_config = ConfigDict(extra="forbid")

    page_id: str = Field(pattern=r"^\d{1,40}$")
    page_access_token: str = Field(
        min_length=10, max_length=1000, json_schema_extra={"writeOnly": True}
    )
    app_secret: str = Field(min_length=8, max_length=200, json_schema_extra={"writeOnly": True})
    # Generated when absent; pasted into the app's webhook settings with the webhook URL.
    verify_token: str | None = Field(default=None, min_length=8, max_length=200)
    api_base_url: str = Field(default=DEFAULT_API, max_length=500)
    # Ask the Graph API for the sender's name and picture the first time they write.
    fetch_profiles: bool = True


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Party(_Loose):
    id: GraphId


class AttachmentPayload(_Loose):
    url: str | None = Field(default=None, max_length=4000)
    title: str | None = Field(default=None, max_length=1000)


class Attachment(_Loose):
    type: str = Field(min_length=1, max_length=50)
    payload: AttachmentPayload | None = None


class StoryRef(_Loose):
    id: GraphId | None = None
    url: str | None = Field(default=None, max_length=4000)


class ReplyTo(_Loose):
    mid: str | None = Field(default=None, max_length=300)
    story: StoryRef | None = None


class MessageBody(_Loose):
    mid: str = Field(min_length=1, max_length=300)
    text: str | None = Field(default=None, max_length=100_000)
    is_echo: bool = False
    app_id: GraphId | None = None
    metadata: str | None = Field(default=None, max_length=1000)
    attachments: list[Attachment] = Field(default=[], max_length=20)
    reply_to: ReplyTo | None = None
    quick_reply: dict[str, Any] | None = None


class Postback(_Loose):
    mid: str | None = Field(default=None, max_length=300)
    title: str | None = Field(default=None, max_length=1000)
    payload: str | None = Field(default=None, max_length=1000)


class Delivery(_Loose):
    mids: list[str] = Field(default=[], max_length=1000)
    watermark: int | None = None


class Read(_Loose):
    watermark: int | None = None
    mid: str | None = Field(default=None, max_length=300)


class Messaging(_Loose):
    sender: Party
    recipient: Party
    timestamp: int | None = None
    message: MessageBody | None = None
    postback: Postback | None = None
    delivery: Delivery | None = None
    read: Read | None = None


class Change(_Loose):
    field: str = Field(max_length=100)
    value: dict[str, Any]


class Entry(_Loose):
    id: GraphId
    time: int | None = None
    messaging: list[Messaging] = Field(default=[], max_length=1000)
    changes: list[Change] = Field(default=[], max_length=1000)


class Notification(_Loose):
    object: Literal["page", "instagram"]
    entry: list[Entry] = Field(max_length=1000)


class Commenter(_Loose):
    id: GraphId
    name: str | None = Field(default=None, max_length=300)
    username: str | None = Field(default=None, max_length=300)


class FeedComment(_Loose):
    """A Page feed change with item "comment" (field "feed")."""

    sender: Commenter = Field(alias="from")
    item: str
    verb: str = "add"
    comment_id: GraphId
    post_id: GraphId
    parent_id: GraphId | None = None
    message: str | None = Field(default=None, max_length=100_000)
    created_time: int | str | None = None
    post: dict[str, Any] | None = None


class InstagramComment(_Loose):
    """An Instagram "comments" change."""

    sender: Commenter = Field(alias="from")
    id: GraphId
    text: str | None = Field(default=None, max_length=100_000)
    parent_id: GraphId | None = None
    media: dict[str, Any] | None = None


class PublicAction(BaseModel):
    """What the agent does with a public comment: answer it in public, hide (or show) it, or
    answer its author privately (one private message, within 7 days of the comment)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["reply_publicly", "hide", "unhide", "reply_privately"]
    text: str = Field(default="", max_length=8000)
    # Default: the newest public comment of the conversation.
    comment_id: str | None = Field(default=None, max_length=200)


class PublicActionRead(BaseModel):
    action: str
    comment_id: str
    # The message that carries a public or private reply (queued for delivery).
    message_id: int | None = None
    # The private thread a private reply went to.
    conversation_id: int | None = None
    hidden: bool | None = None
