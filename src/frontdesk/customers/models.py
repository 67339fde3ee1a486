from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow
from frontdesk.kit.text import search_key

# Separates the parts of a customer's search key, so a match never spans two of them.
KEY_SEPARATOR = "\n"


def customer_search_key(
    name: str | None, addresses: Sequence[str], attributes: dict[str, Any]
) -> str:
    """What the directory's search matches by substring: the name, every identity's address
    and every attribute value, folded as every search folds (kit.text.search_key: case,
    accents, Arabic and Persian letter variants, digits), one per line."""
    values = [str(v) for value in attributes.values() for v in _listed(value) if v is not None]
    parts = [name or "", *addresses, *values]
    return KEY_SEPARATOR.join(search_key(part).replace(KEY_SEPARATOR, " ") for part in parts)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when this record was merged into another; lookups follow it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Agents' free-text notes about the customer (never shown to the customer).
    notes: Mapped[str] = mapped_column(Text, default="")
    # customer_search_key(name, addresses, attribute values), under a substring index
    # (migration 0047); kept by repository.refresh_search_keys after every change to them.
    search_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Identity(Base):
    """One address of a customer: kind is email, phone, or a channel's own handle kind."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))
    # What the provider says about this address (Messenger / Instagram profile), if anything.
    name: Mapped[str | None] = mapped_column(String(200))
    picture_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OptOut(Base):
    """Whether the customer allows messages to one identity on one medium ("sms"): the last
    keyword they sent (STOP / START) wins. Every send to the identity on that medium asks."""

    __tablename__ = "identity_opt_outs"
    __table_args__ = (UniqueConstraint("identity_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(20))
    opted_out: Mapped[bool] = mapped_column(Boolean)
    # How: the word the customer sent, and the inbox and message that carried it.
    keyword: Mapped[str] = mapped_column(String(40))
    inbox_id: Mapped[int | None] = mapped_column()
    message_id: Mapped[int | None] = mapped_column()
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


ATTRIBUTE_KINDS = ("text", "number", "date", "list")


class AttributeDefinition(Base):
    """A custom customer attribute defined by admins: its key in Customer.attributes, its
    label, its kind (text, number, date, list) and, for a list, the values allowed."""

    __tablename__ = "customer_attribute_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerMerge(Base):
    """What one merge moved from `merged_id` onto `customer_id`, so it can be split back:
    the identities and conversations (their messages follow them), the customers merged
    earlier into the merged one, and the kept customer's name and attributes before."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identity_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    conversation_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    redirected_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    name_before: Mapped[str | None] = mapped_column(String(300))
    attributes_before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    by_agent_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    split_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
