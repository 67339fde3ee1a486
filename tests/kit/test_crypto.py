"""Sealed secrets (kit/crypto.py): AES-GCM under a key derived from SECRET_KEY."""

from __future__ import annotations

import pytest

from frontdesk.kit.crypto import SealError, is_sealed, seal, unseal

KEY = "a-test-secret-key-of-some-length"


def test_round_trip_and_fresh_nonce_each_time():
    first = seal("123456:ABC-token", secret_key=KEY, purpose="inbox-settings")
    second = seal("123456:ABC-token", secret_key=KEY, purpose="inbox-settings")
    assert is_sealed(first) and first != second and "ABC" not in first
    assert unseal(first, secret_key=KEY, purpose="inbox-settings") == "123456:ABC-token"


def test_another_secret_key_cannot_open_it():
    sealed = seal("token", secret_key=KEY, purpose="inbox-settings")
    with pytest.raises(SealError):
        unseal(sealed, secret_key=KEY + "-rotated", purpose="inbox-settings")


def test_another_purpose_cannot_open_it():
    sealed = seal("token", secret_key=KEY, purpose="inbox-settings")
    with pytest.raises(SealError):
        unseal(sealed, secret_key=KEY, purpose="something-else")


def test_tampering_is_detected():
    sealed = seal("token", secret_key=KEY, purpose="p")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError):
        unseal(flipped, secret_key=KEY, purpose="p")


def test_plain_values_are_not_sealed():
    assert not is_sealed("123456:ABC") and not is_sealed(None)
    with pytest.raises(SealError):
        unseal("plain", secret_key=KEY, purpose="p")
