"""Helpers of the Test connection tests (one file per channel, next to its fake provider)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Cast


async def check(client: httpx.AsyncClient, cast: Cast, inbox_id: int, who: str = "ada") -> Any:
    return await client.post(
        f"/api/v1/inboxes/{inbox_id}/check", headers=getattr(cast, who).headers
    )


def refused(response: httpx.Response) -> str:
    """The message of a 422 provider_refused (the provider's words)."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "provider_refused", error
    return str(error["message"])
