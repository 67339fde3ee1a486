"""The Telegram channel plugs in: its webhook route, the long-polling runner, its settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import frontdesk.channels.telegram.tasks  # noqa: F401  (registers the callback answer job)
from frontdesk.channels.telegram.adapter import telegram_channel
from frontdesk.channels.telegram.schemas import TelegramSettings
from frontdesk.channels.telegram.views import api_router, router
from frontdesk.inboxes.port import ChannelPlugin, Runner, register_channel

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime


def telegram_poller(runtime: Runtime) -> Runner | None:
    """Where jobs run: each polling bot is taken under a database lease, so any number may."""
    if runtime.runner is None:
        return None
    from frontdesk.channels.telegram.poller import TelegramPoller

    return TelegramPoller(runtime)


PLUGIN = register_channel(
    ChannelPlugin(
        adapter=telegram_channel,
        api_routers=[api_router],
        routers=[router],
        runners=[telegram_poller],
        settings_schema=TelegramSettings,
    )
)
