"""The WhatsApp channel plugs in: its webhook routes and its settings."""

from __future__ import annotations

from frontdesk.channels.whatsapp.adapter import whatsapp_channel
from frontdesk.channels.whatsapp.schemas import WhatsAppSettings
from frontdesk.channels.whatsapp.views import router
from frontdesk.inboxes.port import ChannelPlugin, register_channel

PLUGIN = register_channel(
    ChannelPlugin(adapter=whatsapp_channel, routers=[router], settings_schema=WhatsAppSettings)
)
