"""The e-mail channel plugs in: the SMTP listener and IMAP pollers, its admin routes, and the
tables that name blobs (quarantined and raw mails)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from frontdesk.channels.email import repository
from frontdesk.channels.email.adapter import email_channel
from frontdesk.channels.email.schemas import EmailSettings
from frontdesk.channels.email.views import router
from frontdesk.inboxes.port import ChannelPlugin, Runner, register_channel

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime


def smtp_listener(runtime: Runtime) -> Runner | None:
    """Wherever a port is configured (`FRONTDESK_SMTP_PORT`), jobs or not."""
    if runtime.settings.smtp_port is None:
        return None
    from frontdesk.channels.email.smtp import SmtpListener

    return SmtpListener(runtime)


def imap_poller(runtime: Runtime) -> Runner | None:
    """Where jobs run: pollers take a database lease per mailbox, so any number may."""
    if runtime.runner is None or not runtime.settings.imap_enabled:
        return None
    from frontdesk.channels.email.imap import ImapPoller

    return ImapPoller(runtime)


PLUGIN = register_channel(
    ChannelPlugin(
        adapter=email_channel,
        api_routers=[router],
        runners=[smtp_listener, imap_poller],
        settings_schema=EmailSettings,
        blob_holders=[repository.blob_keys_in_use],
    )
)
