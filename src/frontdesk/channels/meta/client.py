"""The Graph API over HTTPS: JSON in and out, the Page token as a bearer credential, errors
as `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`."""

from __future__ import annotations

import json
from typing import Any

import httpx

from frontdesk.config import Settings
from frontdesk.kit import http
from frontdesk.kit.security import check_outbound_url

# Graph error codes that mean "slow down": 4 (app), 17 (user), 32 (page), 613 (call rate).
THROTTLED = {4, 17, 32, 613}


class GraphError(Exception):
    def __init__(self, status: int, code: int | None, message: str, *, retry_after: float | None):
        super().__init__(f"{code or status}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        return self.status == 429 or self.code in THROTTLED

    @property
    def permanent(self) -> bool:
        """Meta refused this request for good (bad recipient, window, permissions)."""
        return 400 <= self.status < 500 and not self.throttled


class GraphApi:
    def __init__(self, settings: dict[str, Any], app: Settings, *, timeout: float | None = None):
        self.base = str(settings.get("api_base_url") or "").rstrip("/")
        self.token = str(settings.get("page_access_token") or "")
        self.app = app
        self.timeout = timeout if timeout is not None else app.webhook_timeout_seconds

    def _check(self, url: str) -> None:
        # At call time too: DNS may have changed since the inbox was saved (SSRF guard).
        check_outbound_url(url, allow_private=self.app.allow_private_webhooks)

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(
        self,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        url = f"{self.base}/{path.lstrip('/')}"
        self._check(url)
        async with http.calls(self.timeout) as client:
            if files:
                data = {
                    k: v if isinstance(v, str) else json.dumps(v)
                    for k, v in (payload or {}).items()
                }
                response = await client.post(
                    url, data=data, files=files, params=query, headers=self._auth
                )
            else:
                response = await client.post(
                    url, json=payload or {}, params=query, headers=self._auth
                )
        return _result(response)

    async def get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.base}/{path.lstrip('/')}"
        self._check(url)
        async with http.calls(self.timeout) as client:
            response = await client.get(url, params=params, headers=self._auth)
        return _result(response)

    async def download(self, url: str, *, max_bytes: int) -> tuple[str, bytes]:
        """(content type, bytes) of a file a webhook names by URL (Meta's CDN)."""
        self._check(url)
        async with http.calls(self.timeout) as client:
            response = await client.get(url)
        if response.status_code != 200:
            raise GraphError(response.status_code, None, "file download failed", retry_after=None)
        if len(response.content) > max_bytes:
            raise GraphError(413, None, f"file is over {max_bytes} bytes", retry_after=None)
        kind = response.headers.get("content-type", "application/octet-stream")
        return kind.split(";")[0].strip().lower(), response.content


def _result(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= response.status_code < 300 and isinstance(body, dict) and "error" not in body:
        return body
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    retry = response.headers.get("retry-after")
    return _raise(
        GraphError(
            response.status_code,
            int(code) if isinstance(code, int) else None,
            str(error.get("message") or f"HTTP {response.status_code}"),
            retry_after=float(retry) if retry and retry.isdigit() else None,
        )
    )


def _raise(error: GraphError) -> dict[str, Any]:
    raise error
