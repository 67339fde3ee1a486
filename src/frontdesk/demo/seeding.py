"""The demo's messaging inboxes and its mail relay, seeded once and re-pointed at every start
(the port may change between runs, and a data dir seeded by an older version gains them)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth import repository as auth_repository
from frontdesk.config import Settings
from frontdesk.db import utcnow
from frontdesk.demo.browser_calls import seed_browser_calls
from frontdesk.demo.calls import seed_calls
from frontdesk.demo.cast import PROVIDER_PREFIX, is_demo_inbox, messaging_inboxes, provider_base
from frontdesk.demo.cti import seed_cti, seed_cti_inbox
from frontdesk.demo.history import seed_history
from frontdesk.demo.shifts import seed_shifts
from frontdesk.demo.workload import seed_handled_tasks, seed_queues
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate, InboxUpdate
from frontdesk.inboxes.secrets import opened
from frontdesk.runtime import Runtime
from frontdesk.surveys.demo import seed_surveys

# The agents who answered the demo's history (they exist once the organisation is loaded).
HISTORY_AGENTS = ("alice@frontdesk.test", "bob@frontdesk.test", "sara@frontdesk.test")

DEMO_MAIL_ADDRESS = "support@frontdesk.test"


async def demo_world(session: AsyncSession, runtime: Runtime, *, history: bool) -> None:
    """The demo's own providers and mail sink (seeded once, re-pointed at every start), and
    with `history` the weeks of conversations a newcomer finds."""
    support = await auth_repository.get_team_by_name(session, "Support")
    team_ids = [support.id] if support is not None else []
    await seed_messaging(session, runtime.settings, team_ids)
    await repoint(session, runtime.settings)
    pbx = await seed_cti_inbox(session, runtime, team_ids)
    if history:
        rows = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=500)
        agents = [await auth_repository.get_agent_by_email(session, e) for e in HISTORY_AGENTS]
        staff = [a for a in agents if a is not None]
        await seed_history(session, runtime, inboxes=list(rows), agents=staff)
        await seed_calls(session, runtime, inboxes=list(rows), agents=staff)
        await seed_cti(session, runtime, inbox=pbx, agents=staff)
        await seed_browser_calls(session, runtime, inboxes=list(rows), agents=staff)
        # After the history: its resolved conversations carry their answers, so the survey
        # triggers their resolves raise find them asked already.
        await seed_surveys(session, list(rows), now=utcnow(), rng=random.Random(20261206))
        await seed_handled_tasks(session)
        await seed_queues(session)
        seed_shifts(session, staff)


async def seed_messaging(session: AsyncSession, app: Settings, team_ids: list[int]) -> None:
    """One inbox per messaging provider, unless the demo has them already."""
    rows = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=500)
    have = {row.channel for row in rows if is_demo_inbox(opened(row, app))}
    for channel, name, settings in messaging_inboxes(app.base_url):
        if channel not in have:
            data = InboxCreate(channel=channel, name=name, team_ids=team_ids, settings=settings)
            await inboxes.create_inbox(session, data, app)


async def repoint(session: AsyncSession, app: Settings) -> None:
    """Provider URLs under this run's BASE_URL; the demo mailbox relays to this run's sink."""
    rows = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=500)
    for row in rows:
        current = opened(row, app)
        change = _provider_change(row.channel, current, app) or _relay_change(current, app)
        if change:
            await inboxes.update_inbox(session, row, InboxUpdate(settings=change), app)


def _provider_change(channel: str, current: dict[str, Any], app: Settings) -> dict[str, Any]:
    if not is_demo_inbox(current):
        return {}
    key = "outbound_url" if channel == "sms_gateway" else "api_base_url"
    wanted = provider_base(app.base_url, channel) + ("/send" if key == "outbound_url" else "")
    return {key: wanted} if current.get(key) != wanted and PROVIDER_PREFIX in wanted else {}


def _relay_change(current: dict[str, Any], app: Settings) -> dict[str, Any]:
    if current.get("address") != DEMO_MAIL_ADDRESS or not app.demo_mail_port:
        return {}
    relay = {"host": "127.0.0.1", "port": app.demo_mail_port, "security": "none"}
    smtp = current.get("smtp") or {}
    if all(smtp.get(k) == v for k, v in relay.items()):
        return {}
    return {"smtp": {**relay, "timeout_seconds": 10.0}}
