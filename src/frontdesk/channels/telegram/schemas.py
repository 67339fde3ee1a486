"""The inbox settings of a Telegram bot, and the parts of the Bot API's `Update` we read
(https://core.telegram.org/bots/api#update); unknown fields are ignored, as the API adds some."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DEFAULT_API = "https://api.telegram.org"
# Message kinds we do not carry: shown as "[kind]" so the agent knows something came.
OTHER_KINDS = (
    "sticker", "voice", "audio", "video", "video_note", "animation", "location", "venue",
    "contact", "poll", "dice",
)  # fmt: skip


class TelegramSettings(BaseModel):
    """A bot from @BotFather. Webhook mode: Telegram calls `webhook_url` with `secret_token`
    in X-Telegram-Bot-Api-Secret-Token. Polling mode: we call getUpdates (no public URL)."""

    model_config = ConfigDict(extra="forbid")

    bot_token: str = Field(
        pattern=r"^\d{1,20}:[A-Za-z0-9_-]{10,200}$", json_schema_extra={"writeOnly": True}
    )
    # Generated when absent; Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and -.
    secret_token: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{16,256}$", json_schema_extra={"writeOnly": True}
    )
    mode: Literal["webhook", "polling"] = "webhook"
    api_base_url: str = Field(default=DEFAULT_API, max_length=500)
    # How long one getUpdates call may wait for an update (Telegram's long-poll timeout).
    poll_timeout_seconds: int = Field(default=25, ge=0, le=50)


# What a hostile update can carry that our databases refuse (PostgreSQL: NUL in text and
# JSON) or cannot represent (timestamps and ids past 64 bits) is dropped or refused here.
Text = Annotated[str, AfterValidator(lambda value: value.replace("\x00", ""))]
Id = Annotated[int, Field(ge=-(2**53), le=2**53)]
Timestamp = Annotated[int, Field(ge=0, le=2**33)]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class User(_Loose):
    id: Id
    is_bot: bool = False
    first_name: Text = Field(default="", max_length=300)
    last_name: Text | None = Field(default=None, max_length=300)
    username: Text | None = Field(default=None, max_length=300)

    @property
    def display_name(self) -> str | None:
        full = " ".join(part for part in (self.first_name, self.last_name) if part).strip()
        return full or self.username


class Chat(_Loose):
    id: Id
    type: Text = Field(default="private", max_length=50)
    title: Text | None = Field(default=None, max_length=300)
    username: Text | None = Field(default=None, max_length=300)
    first_name: Text | None = Field(default=None, max_length=300)
    last_name: Text | None = Field(default=None, max_length=300)


class PhotoSize(_Loose):
    file_id: Text = Field(min_length=1, max_length=300)
    width: int = 0
    height: int = 0
    file_size: int | None = None


class Document(_Loose):
    file_id: Text = Field(min_length=1, max_length=300)
    file_name: Text | None = Field(default=None, max_length=1000)
    mime_type: Text | None = Field(default=None, max_length=200)
    file_size: int | None = None


class Message(_Loose):
    message_id: Id
    sender: User | None = Field(default=None, alias="from")
    chat: Chat
    date: Timestamp
    edit_date: Timestamp | None = None
    text: Text | None = Field(default=None, max_length=100_000)
    caption: Text | None = Field(default=None, max_length=100_000)
    photo: list[PhotoSize] = Field(default=[], max_length=50)
    document: Document | None = None

    def other_kind(self) -> str | None:
        """The kind of a message we do not carry (sticker, voice, location...), if any."""
        extra: dict[str, Any] = self.model_extra or {}
        return next((kind for kind in OTHER_KINDS if kind in extra), None)


class CallbackQuery(_Loose):
    id: Text = Field(min_length=1, max_length=300)
    sender: User = Field(alias="from")
    message: Message | None = None
    data: Text | None = Field(default=None, max_length=1000)


class Update(_Loose):
    update_id: Annotated[int, Field(ge=0, le=2**53)]
    message: Message | None = None
    edited_message: Message | None = None
    callback_query: CallbackQuery | None = None
