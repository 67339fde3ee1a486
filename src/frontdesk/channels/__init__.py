"""The channels: each is one package above `conversations/` that plugs into the inbox port
(`frontdesk.inboxes.port.register_channel`) from its `plugin` module. None imports another.

Adding a channel is one new package plus one entry in INSTALLED (docs/channels.md). A package
may bring several channels that share its code (`meta` brings `messenger` and `instagram`):
PACKAGES names it for each of them."""

from __future__ import annotations

import importlib

# The registry entries, in the order their routes are mounted.
INSTALLED: tuple[str, ...] = (
    "api", "email", "webchat", "telegram", "whatsapp", "messenger", "instagram", "sms",
    "sms_gateway", "voice", "cti",
)  # fmt: skip
# The package of each channel whose package has another name (default: the channel's name).
PACKAGES: dict[str, str] = {"messenger": "meta", "instagram": "meta"}


def package_of(channel: str) -> str:
    return PACKAGES.get(channel, channel)


def load() -> None:
    """Import every installed channel's plugin module (each registers its channels once)."""
    for package in dict.fromkeys(package_of(name) for name in INSTALLED):
        importlib.import_module(f"frontdesk.channels.{package}.plugin")
