"""The voice channel (Twilio-compatible) plugs in: its webhook routes, agents' call routes,
its jobs and its settings."""

from __future__ import annotations

import frontdesk.channels.voice.tasks  # noqa: F401  (registers the voice jobs)
from frontdesk.channels.voice.adapter import voice_channel
from frontdesk.channels.voice.schemas import VoiceSettings
from frontdesk.channels.voice.views import api_router, router
from frontdesk.channels.voice.writer import make_writer
from frontdesk.inboxes.port import ChannelPlugin, register_channel

PLUGIN = register_channel(
    ChannelPlugin(
        adapter=voice_channel,
        api_routers=[api_router],
        routers=[router],
        runners=[make_writer],
        settings_schema=VoiceSettings,
    )
)
