"""The meta package plugs in two channels, `messenger` and `instagram`: the same webhook
route, public-comment actions and settings; each its own adapter (webhook object, identity
kind, text limit, comment reply edge)."""

from __future__ import annotations

from frontdesk.channels.meta.adapter import instagram_channel, messenger_channel
from frontdesk.channels.meta.schemas import MetaSettings
from frontdesk.channels.meta.views import api_router, router
from frontdesk.inboxes.port import ChannelPlugin, register_channel

# The routes are mounted once, with the first channel; they serve inboxes of both.
MESSENGER = register_channel(
    ChannelPlugin(
        adapter=messenger_channel,
        api_routers=[api_router],
        routers=[router],
        settings_schema=MetaSettings,
    )
)
INSTAGRAM = register_channel(ChannelPlugin(adapter=instagram_channel, settings_schema=MetaSettings))
