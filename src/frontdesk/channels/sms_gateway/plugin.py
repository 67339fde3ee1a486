"""The generic SMS gateway channel plugs in: its webhook routes and its settings."""

from __future__ import annotations

from frontdesk.channels.sms_gateway.adapter import sms_gateway_channel
from frontdesk.channels.sms_gateway.schemas import SmsGatewaySettings
from frontdesk.channels.sms_gateway.views import router
from frontdesk.inboxes.port import ChannelPlugin, register_channel

PLUGIN = register_channel(
    ChannelPlugin(adapter=sms_gateway_channel, routers=[router], settings_schema=SmsGatewaySettings)
)
