"""The demo's pretend outside world (development only, ADR 0006 keeps it outside channels/):
built-in providers our adapters talk to (`providers`), the customer's phone (`phone`), and
the outbound mail sink (`mail`). It imports no channel: it speaks the providers' documented
wire formats itself and reads inbox secrets through the inboxes domain."""

from __future__ import annotations

from fastapi import APIRouter

from frontdesk.demo import mail, phone, providers

router = APIRouter(include_in_schema=False)
for module in (providers, phone, mail):
    router.include_router(module.router)

__all__ = ["router"]
