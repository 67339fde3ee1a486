"""The API channel plugs in: signed JSON in (the shared inbound route), webhooks out."""

from frontdesk.channels.api.adapter import ApiSettings, api_channel
from frontdesk.channels.views import router
from frontdesk.inboxes.port import ChannelPlugin, register_channel

PLUGIN = register_channel(
    ChannelPlugin(adapter=api_channel, api_routers=[router], settings_schema=ApiSettings)
)
