"""The webchat channel plugs in: the widget's socket (outside the middleware stack), its
script, pages and upload routes, and the transcript job."""

import frontdesk.channels.webchat.tasks  # noqa: F401  (registers the transcript job)
from frontdesk.channels.webchat import call_socket, call_views, repository, socket
from frontdesk.channels.webchat.adapter import WebchatSettings, webchat_channel
from frontdesk.channels.webchat.views import router
from frontdesk.inboxes.port import ChannelPlugin, register_channel
from frontdesk.web import socket as desk_socket

# Browser calls' signals from agents come over the desk socket.
desk_socket.FRAME_HANDLERS["rtc"] = call_socket.signal_from_desk
desk_socket.FRAME_HANDLERS["call"] = call_socket.start_from_desk
desk_socket.CLOSE_HANDLERS.append(call_socket.desk_gone)

PLUGIN = register_channel(
    ChannelPlugin(
        adapter=webchat_channel,
        routers=[router, call_views.router],
        settings_schema=WebchatSettings,
        sockets={socket.PATH: socket.visitor_endpoint},
        blob_holders=[repository.chunk_blob_keys_in_use],
    )
)
