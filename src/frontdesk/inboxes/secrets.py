"""Provider secrets of an inbox (tokens, passwords a channel's settings schema marks
write-only): sealed at rest with a key derived from SECRET_KEY (kit/crypto.py), opened only
where an adapter talks to its provider, and never read back through the API."""

from __future__ import annotations

import weakref
from typing import Any

from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import secret_settings
from frontdesk.kit.crypto import SealError, is_sealed, seal, unseal

PURPOSE = "inbox-settings"
# What a read shows in place of a secret; sent back in a PATCH it means "keep the old one".
MASK = "********"
# Secrets nested in blocks that predate sealing (the e-mail channel's imap/smtp passwords):
# masked on read, stored as they are.
NESTED_SECRET_FIELDS = frozenset({"password"})


def seal_settings(channel: str, settings: dict[str, Any], app: Settings) -> dict[str, Any]:
    """Validated settings as they are stored: the channel's secret fields sealed."""
    secret = secret_settings(channel)
    return {
        key: seal(str(value), secret_key=app.secret_key, purpose=PURPOSE)
        if key in secret and value not in (None, "") and not is_sealed(value)
        else value
        for key, value in settings.items()
    }


def open_settings(settings: dict[str, Any], app: Settings) -> dict[str, Any]:
    """Stored settings with every sealed value opened (for the adapter, never for a read)."""
    return {
        key: unseal(value, secret_key=app.secret_key, purpose=PURPOSE)
        if is_sealed(value)
        else value
        for key, value in settings.items()
    }


def opened(inbox: Inbox, app: Settings) -> dict[str, Any]:
    return open_settings(inbox.settings, app)


def editable(inbox: Inbox, app: Settings) -> dict[str, Any]:
    """Stored settings opened for an update. A secret sealed under an earlier SECRET_KEY is
    left out, so the PATCH that re-enters it succeeds (and one that does not is refused by
    the channel's validation as missing, instead of failing with a 500)."""
    result: dict[str, Any] = {}
    for key, value in inbox.settings.items():
        if not is_sealed(value):
            result[key] = value
            continue
        try:
            result[key] = unseal(value, secret_key=app.secret_key, purpose=PURPOSE)
        except SealError:
            continue
    return result


def without_masks(changes: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """A PATCH's settings minus secrets sent back masked: write-only means the old one stays.
    A block (e-mail's imap, smtp) replaces the stored one whole, so a secret masked inside it
    takes the stored value back (`current`, opened)."""
    kept: dict[str, Any] = {}
    for key, value in changes.items():
        if value == MASK:
            continue
        if isinstance(value, dict):
            before = (current or {}).get(key)
            value = _unmasked(value, before if isinstance(before, dict) else {})
        kept[key] = value
    return kept


def _unmasked(block: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {
        key: before.get(key) if value == MASK else value
        for key, value in block.items()
        if value != MASK or key in before
    }


def redact(channel: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API shows them: secrets replaced by MASK (unset ones stay null)."""
    secret = secret_settings(channel)
    return _redact(settings, secret)


def _redact(settings: dict[str, Any], secret: frozenset[str]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            clean[key] = _redact(value, NESTED_SECRET_FIELDS)
        elif (key in secret or key in NESTED_SECRET_FIELDS or is_sealed(value)) and value:
            clean[key] = MASK
        else:
            clean[key] = value
    return clean


def opened_inbox(inbox: Inbox, app: Settings) -> Inbox:
    """What an adapter is handed: the inbox with its secrets opened. A detached copy that no
    session ever sees, so the opened values cannot be written back; the row itself when
    nothing in it is sealed."""
    if not any(is_sealed(value) for value in inbox.settings.values()):
        return inbox
    return Inbox(
        id=inbox.id,
        name=inbox.name,
        channel=inbox.channel,
        settings=open_settings(inbox.settings, app),
        secret=inbox.secret,
        active=inbox.active,
        created_at=inbox.created_at,
    )


# Opened copies of the rows the process's inbox cache holds (inboxes/cache.py), keyed by the
# row itself: a row the cache replaces (a changed inbox) is opened anew, and its copy goes
# with it. Only copies are kept: a row with nothing sealed is its own opened inbox.
_OPENED: weakref.WeakKeyDictionary[Inbox, tuple[str, Inbox]] = weakref.WeakKeyDictionary()


def opened_cached(cached: Inbox, app: Settings) -> Inbox:
    """`opened_inbox` of a row from the process's inbox cache (`runtime.inboxes.get`), opened
    once per row instead of on every webhook (like the voice lines). Never for a row a
    session holds: its settings may change under the key."""
    found = _OPENED.get(cached)
    if found is not None and found[0] == app.secret_key:
        return found[1]
    inbox = opened_inbox(cached, app)
    if inbox is not cached:
        _OPENED[cached] = (app.secret_key, inbox)
    return inbox
