"""Address normalisation (e-mail lower-cased, phones E.164, other handles trimmed) and text
made storable (what PostgreSQL text cannot hold is replaced)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator

from frontdesk.kit.errors import Invalid

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{2,63}$"
)
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{5,}$")
MAX_ADDRESS = 320


def normalize_email(address: str) -> str:
    value = address.strip().lower()
    if value.endswith(".") and "@" in value:
        value = value[:-1]  # the root label of a fully qualified domain: the same address
    if len(value) > MAX_ADDRESS or not _EMAIL.match(value):
        raise Invalid(f"not a valid e-mail address: {address!r}", code="invalid_address")
    return value


def normalize_phone(address: str, region: str | None = None) -> str:
    try:
        number = phonenumbers.parse(address, region)
    except phonenumbers.NumberParseException as exc:
        raise Invalid(f"not a valid phone number: {address!r}", code="invalid_address") from exc
    if not phonenumbers.is_possible_number(number):
        raise Invalid(f"not a valid phone number: {address!r}", code="invalid_address")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def classify_address(address: str, *, handle_kind: str) -> tuple[str, str]:
    """Return (identity kind, normalised address): e-mails and phones are shared across
    channels so one customer is recognised everywhere; anything else is a channel handle."""
    value = unicodedata.normalize("NFC", address).strip()
    if (
        not value
        or len(value) > MAX_ADDRESS
        or any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
    ):
        raise Invalid(f"not a valid address: {address!r}", code="invalid_address")
    if "@" in value:
        return "email", normalize_email(value)
    if _PHONE_LIKE.match(value) and value.startswith("+"):
        return "phone", normalize_phone(value)
    return handle_kind, value


RAW_KIND = "raw"
# Characters that PostgreSQL text (and so every channel's message) cannot hold: NUL, and the
# lone surrogates that JSON escapes and surrogate-escaped bytes can produce.
_NUL = "\x00"
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: str) -> str:
    """`value` with what a database text column cannot hold replaced by U+FFFD. Inbound text
    goes through here once, before storage (conversations.receiving), so a NUL byte or a lone
    surrogate from any channel is stored visibly instead of failing the write for ever."""
    if _NUL in value:
        value = value.replace(_NUL, REPLACEMENT)
    if value.isascii():  # O(1): most text stops here
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub(REPLACEMENT, value)
    return value


def storable_json(value: Any) -> Any:
    """`storable` applied to every string (keys too) of a JSON-like value."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


def raw_address(address: str) -> tuple[str, str]:
    """An identity for a sender address no rule can normalise (`"Test test@example.com"`,
    `redacted@redacted`): kind `raw`, the text as written without control or format
    characters, spaces collapsed, lower-cased. Its message is stored; nothing is sent to it."""
    value = "".join(
        c
        for c in unicodedata.normalize("NFC", storable(address))
        if unicodedata.category(c) not in ("Cc", "Cf")
    )
    value = " ".join(value.replace(REPLACEMENT, "").split()).lower()[:MAX_ADDRESS]
    return RAW_KIND, value or "(none)"


def one_line(value: str) -> str:
    """A name or subject as an agent or API caller sets it: a line break or another control
    character is refused (422), since it would end up in a mail header."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise ValueError("must be one line, without control characters")
    return value


OneLine = Annotated[str, AfterValidator(one_line)]
