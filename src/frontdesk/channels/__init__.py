"""The channels: each is one package above `conversations/` that plugs into the inbox port
(`frontdesk.inboxes.port.register_channel`) from its `plugin` module. None imports another.

Adding a channel is one new package plus one entry in INSTALLED (docs/channels.md)."""

from __future__ import annotations

import importlib

# The registry entries, in the order their routes are mounted.
INSTALLED: tuple[str, ...] = ("api", "email", "webchat", "telegram", "sms", "sms_gateway")


def load() -> None:
    """Import every installed channel's plugin module (each registers itself once)."""
    for name in INSTALLED:
        importlib.import_module(f"frontdesk.channels.{name}.plugin")
