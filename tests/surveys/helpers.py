"""Survey test helpers: configure an inbox's survey, a customer who wrote, a resolve."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update

from frontdesk.db import utcnow
from frontdesk.kit.jobs import Job
from frontdesk.surveys.models import Survey
from tests.conftest import InboxInfo, inbound_payload, post_inbound, run_jobs

LINK = re.compile(r"/surveys/r/([0-9]+\.[0-9]+\.[0-9a-f]+)")


async def configure(client, cast, inbox_id: int, **settings: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.put(
        f"/api/v1/inboxes/{inbox_id}/survey", json=settings, headers=cast.ada.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wrote(
    client, inbox: InboxInfo, address: str, external_id: str, text: str = "help"
) -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, inbox, inbound_payload(external_id, address, text))
    assert response.status_code == 202, response.text
    return int(response.json()["conversation_id"])


async def resolve(client, runtime, cast, conversation_id: int, **changes: Any) -> None:  # type: ignore[no-untyped-def]
    response = await client.patch(
        f"/api/v1/conversations/{conversation_id}",
        json={"status": "resolved", **changes},
        headers=cast.ada.headers,
    )
    assert response.status_code == 200, response.text
    await run_jobs(runtime)


async def click(client, token: str, score: int, *, follow: bool = False):  # type: ignore[no-untyped-def]
    """A customer's click on a score link: its page, then the post its script makes."""
    from tests.web.test_views import csrf_of

    page = await client.get(f"/surveys/r/{token}?score={score}")
    assert page.status_code == 200, page.text
    return await client.post(
        f"/surveys/r/{token}",
        data={"csrf": csrf_of(page.text), "score": str(score)},
        follow_redirects=follow,
    )


async def surveys(client, cast, **filters: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/surveys", params=filters, headers=cast.ada.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def messages(client, cast, conversation_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=cast.ada.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["items"] if isinstance(body, dict) else body)


async def survey_row(runtime, survey_id: int) -> Survey:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = await session.get(Survey, survey_id)
        assert found is not None
        return found


async def make_due(runtime, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Jobs of `kind` waiting for a later time run now (as if that time had come)."""
    async with runtime.db.session() as session:
        jobs = (await session.scalars(select(Job).where(Job.kind == kind))).all()
        assert jobs, f"no {kind} job"
        await session.execute(update(Job).where(Job.kind == kind).values(run_at=utcnow()))
        await session.commit()
