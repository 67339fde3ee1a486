"""Address normalisation: e-mail lower-cased, phones E.164, other handles trimmed."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from frontdesk.kit.errors import Invalid

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{2,63}$"
)
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{5,}$")
MAX_ADDRESS = 320


def normalize_email(address: str) -> str:
    value = address.strip().lower()
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
    if not value or len(value) > MAX_ADDRESS or any(unicodedata.category(c) == "Cc" for c in value):
        raise Invalid(f"not a valid address: {address!r}", code="invalid_address")
    if "@" in value:
        return "email", normalize_email(value)
    if _PHONE_LIKE.match(value) and value.startswith("+"):
        return "phone", normalize_phone(value)
    return handle_kind, value
