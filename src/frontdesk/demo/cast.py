"""The demo's messaging inboxes (one per provider, each pointed at the built-in demo provider)
and the customers a newcomer can play on /demo/phone."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

PROVIDER_PREFIX = "/demo/provider"
# The channels /demo/phone can play, in the order its picker shows them.
PHONE_CHANNELS = ("sms", "whatsapp", "telegram", "messenger", "instagram", "sms_gateway")
# Page-scoped ids (Messenger's PSID, Instagram's IGSID) of the personas: a fixed offset from
# their Telegram id, so each persona has one stable id per platform.
PSID_BASE = 6_100_000_000_000_000
IGSID_BASE = 17_841_400_000_000_000


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    language: str
    phone: str  # E.164; the same number on SMS and WhatsApp is one customer
    telegram_id: int
    greeting: str

    def address(self, channel: str) -> str:
        """Their address on a channel: the Telegram user id, the Page-scoped id on Messenger
        and Instagram, else the phone number (SMS, the SMS gateway, WhatsApp)."""
        if channel == "telegram":
            return str(self.telegram_id)
        if channel == "messenger":
            return str(PSID_BASE + self.telegram_id)
        if channel == "instagram":
            return str(IGSID_BASE + self.telegram_id)
        return self.phone


PERSONAS = (
    Persona(
        "layla", "Layla Haddad", "en", "+971501234567", 7100000001,
        "Hi! Where is my order #4411? I wrote by SMS too.",
    ),
    Persona(
        "omar", "Omar Khalil", "ar", "+966501234567", 7100000002,
        "مرحبا، هل يمكنني تغيير عنوان التوصيل؟",
    ),
    Persona(
        "reza", "Reza Ahmadi", "fa", "+989123456789", 7100000003,
        "سلام، سفارش من کی می‌رسد؟",
    ),
)  # fmt: skip


def persona(key: str) -> Persona | None:
    return next((p for p in PERSONAS if p.key == key), None)


def provider_base(base_url: str, channel: str) -> str:
    return f"{base_url.rstrip('/')}{PROVIDER_PREFIX}/{channel}"


def is_demo_inbox(settings: dict[str, Any]) -> bool:
    """An inbox the seed pointed at a demo provider (its API base or gateway URL)."""
    target = str(settings.get("api_base_url") or settings.get("outbound_url") or "")
    return PROVIDER_PREFIX + "/" in target


def messaging_inboxes(base_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(channel, name, settings) of the demo's messaging inboxes, with fresh credentials."""

    def token(n: int = 24) -> str:
        return secrets.token_urlsafe(n)

    def base(channel: str) -> str:
        return provider_base(base_url, channel)

    return [
        ("sms", "SMS +1 500 555 0006", {
            "account_sid": "AC" + secrets.token_hex(16), "auth_token": secrets.token_hex(16),
            "from_number": "+15005550006", "default_region": "US", "api_base_url": base("sms"),
        }),
        ("sms_gateway", "SMS gateway (local operator)", {
            "outbound_url": base("sms_gateway") + "/send", "from_number": "+97145550100",
            "default_region": "AE", "secret": secrets.token_hex(24),
        }),
        ("whatsapp", "WhatsApp", {
            "phone_number_id": str(10**14 + secrets.randbelow(10**14)),
            "access_token": token(), "app_secret": secrets.token_hex(16),
            "api_base_url": base("whatsapp"),
        }),
        ("telegram", "Telegram @AcmeOutfittersBot", {
            "bot_token": f"{secrets.randbelow(10**9) + 10**9}:{token()}",
            "secret_token": token(), "mode": "webhook", "api_base_url": base("telegram"),
        }),
        ("messenger", "Messenger (Acme Outfitters Page)", {
            "page_id": str(2 * 10**14 + secrets.randbelow(10**14)), "page_access_token": token(),
            "app_secret": secrets.token_hex(16), "api_base_url": base("messenger"),
            "fetch_profiles": False,
        }),
        ("instagram", "Instagram @acme.outfitters", {
            "page_id": str(3 * 10**14 + secrets.randbelow(10**14)), "page_access_token": token(),
            "app_secret": secrets.token_hex(16), "api_base_url": base("instagram"),
            "fetch_profiles": False,
        }),
        ("voice", "Phone +1 500 555 0007", {
            "account_sid": "AC" + secrets.token_hex(16), "auth_token": secrets.token_hex(16),
            "phone_number": "+15005550007", "api_base_url": base("voice"),
            "open_days": ["sat", "sun", "mon", "tue", "wed", "thu", "fri"],
            "opens_at": "08:00", "closes_at": "20:00",
        }),
    ]  # fmt: skip
