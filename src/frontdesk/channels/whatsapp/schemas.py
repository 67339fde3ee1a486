"""The inbox settings of a WhatsApp Business number, and the parts of the Cloud API's
`messages` webhook we read (object `whatsapp_business_account`, entry[].changes[].value);
unknown fields are ignored, as Meta adds some."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Graph API versions are written vNN.N; the operator may pin another one in api_base_url.
DEFAULT_API = "https://graph.facebook.com/v21.0"


class WhatsAppSettings(BaseModel):
    """A phone number of a WhatsApp Business Account. Meta calls `webhook_url` (verified with
    `verify_token`, signed with `app_secret`); we call the Graph API with `access_token`."""

    model_config = ConfigDict(extra="forbid")

    phone_number_id: str = Field(pattern=r"^\d{1,30}$")
    access_token: str = Field(min_length=10, max_length=2000, json_schema_extra={"writeOnly": True})
    app_secret: str = Field(min_length=8, max_length=200, json_schema_extra={"writeOnly": True})
    # Pasted into Meta's console next to the webhook URL (so it is readable); generated when
    # absent.
    verify_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.~-]{8,200}$")
    api_base_url: str = Field(default=DEFAULT_API, max_length=500)
    # For numbers written without a country code (wa_id always has one).
    default_region: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Profile(_Loose):
    name: str | None = Field(default=None, max_length=500)


class Contact(_Loose):
    wa_id: str = Field(min_length=1, max_length=40)
    profile: Profile | None = None


class Text(_Loose):
    body: str = Field(max_length=100_000)


class Media(_Loose):
    id: str = Field(min_length=1, max_length=300)
    mime_type: str = Field(default="application/octet-stream", max_length=200)
    sha256: str | None = None
    caption: str | None = Field(default=None, max_length=100_000)
    filename: str | None = Field(default=None, max_length=500)


class Location(_Loose):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=1000)
    address: str | None = Field(default=None, max_length=1000)


class Reply(_Loose):
    id: str = Field(max_length=300)
    title: str = Field(default="", max_length=1000)
    description: str | None = Field(default=None, max_length=1000)


class Interactive(_Loose):
    type: str
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class Button(_Loose):
    text: str = Field(default="", max_length=1000)
    payload: str | None = Field(default=None, max_length=1000)


class Reaction(_Loose):
    message_id: str = Field(min_length=1, max_length=300)
    # Absent when the customer removed their reaction.
    emoji: str | None = Field(default=None, max_length=50)


class Context(_Loose):
    id: str | None = Field(default=None, max_length=300)
    sender: str | None = Field(default=None, alias="from", max_length=40)


class Message(_Loose):
    sender: str = Field(alias="from", min_length=1, max_length=40)
    id: str = Field(min_length=1, max_length=300)
    # Unix seconds; 11 digits reach year 5138 (more would overflow a datetime).
    timestamp: str = Field(pattern=r"^\d{1,11}$")
    type: str = Field(max_length=40)
    text: Text | None = None
    image: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    location: Location | None = None
    contacts: list[dict[str, Any]] = Field(default=[], max_length=50)
    interactive: Interactive | None = None
    button: Button | None = None
    reaction: Reaction | None = None
    context: Context | None = None


class StatusError(_Loose):
    code: int | None = None
    title: str | None = Field(default=None, max_length=1000)
    message: str | None = Field(default=None, max_length=1000)


class Status(_Loose):
    id: str = Field(min_length=1, max_length=300)
    status: str = Field(max_length=40)
    # Unix seconds; 11 digits reach year 5138 (more would overflow a datetime).
    timestamp: str = Field(pattern=r"^\d{1,11}$")
    recipient_id: str | None = Field(default=None, max_length=40)
    errors: list[StatusError] = Field(default=[], max_length=20)


class Value(_Loose):
    messaging_product: str = "whatsapp"
    metadata: dict[str, Any] = {}
    contacts: list[Contact] = Field(default=[], max_length=100)
    messages: list[Message] = Field(default=[], max_length=100)
    statuses: list[Status] = Field(default=[], max_length=1000)


class Change(_Loose):
    field: str = "messages"
    value: Value


class Entry(_Loose):
    id: str = ""
    changes: list[Change] = Field(default=[], max_length=100)


class Notification(_Loose):
    object: str
    entry: list[Entry] = Field(max_length=100)
