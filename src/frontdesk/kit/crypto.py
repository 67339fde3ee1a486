"""Sealing secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from SECRET_KEY.

A sealed value is a string `fdenc1:<urlsafe base64 of nonce ‖ ciphertext ‖ tag>`, so it fits
in a JSON column next to plain settings and is recognised on the way out. Rotating SECRET_KEY
makes sealed values unreadable: re-enter them (PATCH the inbox) after a rotation."""

from __future__ import annotations

import base64
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "fdenc1:"
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value that this SECRET_KEY cannot open (rotated key, or tampered with)."""


@cache
def _key(secret_key: str, purpose: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"frontdesk:{purpose}".encode()
    ).derive(secret_key.encode())
    return AESGCM(derived)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(plain: str, *, secret_key: str, purpose: str) -> str:
    """Encrypt and authenticate `plain`; `purpose` separates keys (and binds the ciphertext)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _key(secret_key, purpose).encrypt(nonce, plain.encode(), purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(value: str, *, secret_key: str, purpose: str) -> str:
    if not is_sealed(value):
        raise SealError("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(value[len(PREFIX) :])
        plain = _key(secret_key, purpose).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()
        )
    except (InvalidTag, ValueError) as exc:
        raise SealError("cannot open a sealed value (was SECRET_KEY changed?)") from exc
    return plain.decode()
