"""Shared steps of the SLA tests: policies, a customer writing, an agent replying, clocks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from frontdesk.db import utcnow
from frontdesk.kit.events import Event
from frontdesk.kit.jobs import Job
from frontdesk.runtime import Runtime
from tests.conftest import Cast, inbound_payload, post_inbound, run_jobs

HOUR = 3600


async def make_policy(client: httpx.AsyncClient, cast: Cast, **fields: Any) -> dict[str, Any]:
    body = {"name": "Standard", "first_response_seconds": HOUR, "resolution_seconds": 8 * HOUR}
    answer = await client.post(
        "/api/v1/sla/policies", json={**body, **fields}, headers=cast.ada.headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def customer_writes(
    client: httpx.AsyncClient,
    cast: Cast,
    runtime: Runtime,
    external_id: str,
    *,
    address: str = "mona@example.com",
    inbox: Any = None,
) -> int:
    answer = await post_inbound(
        client, inbox or cast.website, inbound_payload(external_id, address, "help please")
    )
    assert answer.status_code == 202, answer.text
    await run_jobs(runtime)
    return int(answer.json()["conversation_id"])


async def agent_replies(
    client: httpx.AsyncClient, cast: Cast, runtime: Runtime, conversation_id: int
) -> None:
    answer = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "on it"},
        headers=cast.ada.headers,
    )
    assert answer.status_code in (200, 201), answer.text
    await run_jobs(runtime)


async def set_status(
    client: httpx.AsyncClient, cast: Cast, runtime: Runtime, conversation_id: int, status: str
) -> None:
    answer = await client.patch(
        f"/api/v1/conversations/{conversation_id}",
        json={"status": status},
        headers=cast.ada.headers,
    )
    assert answer.status_code == 200, answer.text
    await run_jobs(runtime)


async def conversation(
    client: httpx.AsyncClient, cast: Cast, conversation_id: int
) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/conversations/{conversation_id}", headers=cast.ada.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def clocks(client: httpx.AsyncClient, cast: Cast, conversation_id: int) -> dict[str, Any]:
    read = await conversation(client, cast, conversation_id)
    return {clock["kind"]: clock for clock in read["sla"]}


async def make_due(runtime: Runtime, kind: str) -> list[int]:
    """Every waiting job of `kind` made due now (the clock jumps to its instant)."""
    async with runtime.db.session() as session:
        ids = list(
            await session.scalars(select(Job.id).where(Job.kind == kind, Job.state == "available"))
        )
        await session.execute(
            update(Job).where(Job.id.in_(ids)).values(run_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    return ids


async def events_of(runtime: Runtime, type: str) -> list[Event]:
    async with runtime.db.session() as session:
        return list(
            await session.scalars(select(Event).where(Event.type == type).order_by(Event.sequence))
        )
