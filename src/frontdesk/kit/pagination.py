"""Cursor pagination: opaque cursors over a monotonic integer key."""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

from pydantic import BaseModel

from frontdesk.kit.errors import Invalid
from frontdesk.kit.schemas import MAX_ID

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = int(base64.urlsafe_b64decode(padded.encode()).decode())
    except ValueError as exc:
        raise _invalid("cursor", "malformed cursor") from exc
    # Cursors are ids: one outside the id range names no row (and no database takes it).
    if not 0 <= key <= MAX_ID:
        raise _invalid("cursor", "malformed cursor")
    return key


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise _invalid("limit", "limit must be at least 1")
    return min(limit, MAX_LIMIT)


def _invalid(name: str, message: str) -> Invalid:
    # The one validation error, like a query parameter of the wrong type.
    return Invalid(f"query.{name}: {message}", details=[{"loc": ["query", name], "msg": message}])
