"""Auth event names and payloads, and the access-changed signal that open sockets obey.

An agent's access changes when a token or session is revoked, the agent is deactivated, the
password changes, or team membership changes. The change is recorded in the event log (the
audit trail, and the `/api/v1/events` sockets read it in sequence order) and, after commit,
broadcast on the bus channel ACCESS_CHANNEL so every process re-checks the sockets of those
agents at once (the desk socket, which does not read the event log)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit import uow
from frontdesk.kit.events import record

log = logging.getLogger(__name__)

ACCESS_CHANGED = "agent.access_changed"
ACCESS_CHANNEL = "access"
LOGIN_FAILED = "agent.login_failed"
LOCKED_OUT = "agent.locked_out"

AccessReason = Literal["revoked", "deactivated", "password_changed", "teams_changed"]

# Close code of a socket whose credential ended (the desktop goes to the login page).
CLOSE_ACCESS_ENDED = 4401
# Close code of a socket whose visibility changed (the client reconnects with `since`).
CLOSE_VISIBILITY_CHANGED = 4409


def access_changed(
    session: AsyncSession, agent_ids: Iterable[int], *, reason: AccessReason
) -> None:
    """Record that these agents' access changed; their open sockets re-check after commit."""
    ids = sorted(set(agent_ids))
    if not ids:
        return
    payload: dict[str, Any] = {"agent_ids": ids, "reason": reason}
    record(session, ACCESS_CHANGED, payload)
    db = session.info.get("db")

    async def broadcast() -> None:
        if db is None or db.bus is None:
            return
        # Never raises: the commit stands, and sockets re-check their credential on their
        # own every VISIBILITY_TTL seconds anyway.
        with contextlib.suppress(Exception):
            await db.bus.publish(ACCESS_CHANNEL, json.dumps(payload))

    uow.after_commit(session, broadcast)


def names_agent(event: dict[str, Any], agent_id: int) -> bool:
    """Whether an event from the log or the bus changes `agent_id`'s access."""
    if event.get("type", ACCESS_CHANGED) != ACCESS_CHANGED:
        return False
    payload = event.get("payload", event)
    return agent_id in (payload.get("agent_ids") or ())
