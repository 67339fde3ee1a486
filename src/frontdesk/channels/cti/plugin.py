"""The CTI channel plugs in: its event and click-to-call routes, the AMI runner, its job
and its settings."""

from __future__ import annotations

import frontdesk.channels.cti.tasks  # noqa: F401  (registers the originate job)
from frontdesk.channels.cti.adapter import cti_channel
from frontdesk.channels.cti.desk_views import router as desk_router
from frontdesk.channels.cti.runner import ami_runner
from frontdesk.channels.cti.schemas import CtiSettings
from frontdesk.channels.cti.views import api_router, router
from frontdesk.inboxes.port import ChannelPlugin, register_channel

PLUGIN = register_channel(
    ChannelPlugin(
        adapter=cti_channel,
        api_routers=[api_router],
        routers=[router, desk_router],
        runners=[ami_runner],
        settings_schema=CtiSettings,
    )
)
