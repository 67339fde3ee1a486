"""Who may reach the demo's pages and providers (only a development process: `frontdesk
demo` and the tests), and the demo's inboxes with their secrets opened."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from frontdesk.demo.cast import is_demo_inbox
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit.errors import NotFound
from frontdesk.runtime import Runtime


def _refuse_outside_demo(request: Request) -> None:
    if request.app.state.runtime.settings.env != "development":
        raise NotFound("not found")


# Every demo route depends on this: a production process answers 404 as for any unknown path.
demo_only: Any = Depends(_refuse_outside_demo)


async def demo_inboxes(runtime: Runtime, channel: str) -> list[Inbox]:
    """The active inboxes of a channel that the demo seed pointed at its providers, opened."""
    async with runtime.db.session() as session:
        rows = await inboxes_repository.list_inboxes(session, only=None, after=None, limit=500)
    opened = [
        opened_inbox(row, runtime.settings) for row in rows if row.channel == channel and row.active
    ]
    return [inbox for inbox in opened if is_demo_inbox(inbox.settings)]
