"""Transcription of call recordings: a port (`Transcriber`) and its engines by name
(Settings.transcriber). Offline only: an engine runs in this process, on the recording's
bytes; nothing leaves the machine.

Shipped: "fake", a deterministic engine for tests and the demo (no speech recognition). No
engine whose model ships inside a PyPI wheel and that handles Arabic, Persian and English was
found usable (docs/voice.md, "Transcription"); one can be registered with `register`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

FAKE_PREFIX = b"FAKE-SPEECH:"
# The fake engine's words for audio that carries no FAKE_PREFIX text (picked by the audio's hash).
FAKE_WORDS = (
    "hello I am calling about my order",
    "I would like to change my delivery address",
    "thank you for your help",
)


class Transcriber(Protocol):
    name: str

    async def transcribe(self, audio: bytes, *, content_type: str, language: str | None) -> str:
        """The words spoken in `audio` (empty when none were heard)."""
        ...


class FakeTranscriber:
    """Deterministic: audio that starts with FAKE-SPEECH: "says" the UTF-8 text after it (so
    tests choose the words, card numbers included); any other audio one of FAKE_WORDS."""

    name = "fake"

    async def transcribe(self, audio: bytes, *, content_type: str, language: str | None) -> str:
        if audio.startswith(FAKE_PREFIX):
            return audio[len(FAKE_PREFIX) :].split(b"\0", 1)[0].decode("utf-8", "replace")
        digest = hashlib.sha256(audio).digest()
        return FAKE_WORDS[digest[0] % len(FAKE_WORDS)]


_ENGINES: dict[str, Callable[[], Transcriber]] = {"fake": FakeTranscriber}


def register(name: str, make: Callable[[], Transcriber]) -> None:
    """Add an engine (e.g. from a plugin package); Settings.transcriber chooses it by name."""
    _ENGINES[name] = make


def configured(name: str) -> bool:
    """Whether `name` is an engine (without making one): else nothing is transcribed, and
    no job need be queued for it."""
    return name in _ENGINES


def transcriber(name: str) -> Transcriber | None:
    """The engine called `name`; None for "none" or an unknown name (nothing is transcribed)."""
    make = _ENGINES.get(name)
    return make() if make is not None else None
