"""The fake providers served on loopback, as fixtures for tests that cross channels (a test
inside one channel's folder gets its own provider from that folder's conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest

from tests.channels.meta import conftest as meta_kit
from tests.channels.sms import conftest as sms_kit
from tests.channels.whatsapp import conftest as wa_kit
from tests.conftest import serve_app

Fake = TypeVar("Fake", bound=Any)


async def served(fake: Fake) -> AsyncIterator[Fake]:
    """The fake, listening on loopback at `fake.address` while the test runs."""
    async with serve_app(fake.app) as address:
        fake.address = address
        yield fake


@pytest.fixture
async def graph() -> AsyncIterator[wa_kit.FakeGraphApi]:
    """WhatsApp Cloud API."""
    async for fake in served(wa_kit.FakeGraphApi()):
        yield fake


@pytest.fixture
async def meta_graph() -> AsyncIterator[meta_kit.FakeGraphApi]:
    """Graph API Messenger Platform (Messenger and Instagram)."""
    async for fake in served(meta_kit.FakeGraphApi()):
        yield fake


@pytest.fixture
async def twilio() -> AsyncIterator[sms_kit.FakeTwilio]:
    async for fake in served(sms_kit.FakeTwilio()):
        yield fake
