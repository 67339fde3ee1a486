"""The SMS channel (Twilio-compatible) plugs in: its webhook routes and its settings."""

from __future__ import annotations

from frontdesk.channels.sms.adapter import sms_channel
from frontdesk.channels.sms.schemas import SmsSettings
from frontdesk.channels.sms.views import api_router, router
from frontdesk.inboxes.port import ChannelPlugin, register_channel

PLUGIN = register_channel(
    ChannelPlugin(
        adapter=sms_channel,
        api_routers=[api_router],
        routers=[router],
        settings_schema=SmsSettings,
    )
)
