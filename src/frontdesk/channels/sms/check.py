"""Test connection for a Twilio-compatible account: fetch the account
(GET /2010-04-01/Accounts/{sid}.json) with the inbox's credentials."""

from __future__ import annotations

import httpx

from frontdesk.channels.sms.schemas import SmsSettings
from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import ConnectionCheck, provider_refused, provider_unreachable
from frontdesk.kit.security import check_outbound_url


async def check_account(inbox: Inbox, app: Settings) -> ConnectionCheck:
    """`inbox` with its secrets opened; a refusal raises provider_refused with Twilio's words
    (its error code and message)."""
    conf = SmsSettings.model_validate(inbox.settings)
    check_outbound_url(conf.api_base_url, allow_private=app.allow_private_webhooks)
    url = f"{conf.api_base_url.rstrip('/')}/2010-04-01/Accounts/{conf.account_sid}.json"
    try:
        async with httpx.AsyncClient(
            timeout=app.webhook_timeout_seconds, follow_redirects=False
        ) as client:
            response = await client.get(
                url, auth=httpx.BasicAuth(conf.account_sid, conf.auth_token)
            )
        body = response.json() if response.content else {}
    except (httpx.HTTPError, ValueError) as exc:
        raise provider_unreachable(exc) from exc
    if not response.is_success or not isinstance(body, dict):
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        raise provider_refused(f"{code or response.status_code}: {message or 'error'}")
    facts = {
        key: str(body[name])
        for key, name in (("account_name", "friendly_name"), ("account_status", "status"))
        if body.get(name) is not None
    }
    return ConnectionCheck(ok=True, detail=facts.get("account_name"), facts=facts)
