"""Every demo route (each answers 404 outside development)."""

from __future__ import annotations

from fastapi import APIRouter

from frontdesk.demo import mail, phone, providers

router = APIRouter(include_in_schema=False)
for module in (providers, phone, mail):
    router.include_router(module.router)
