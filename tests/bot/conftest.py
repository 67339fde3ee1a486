"""Maya, a customer of the website inbox, with the bot on that inbox."""

from __future__ import annotations

import pytest

from tests.bot.test_service import Customer, enable_bot


@pytest.fixture
async def maya(client, cast, runtime) -> Customer:  # type: ignore[no-untyped-def]
    await enable_bot(client, cast, cast.website.id)
    return Customer(client, cast, runtime)
