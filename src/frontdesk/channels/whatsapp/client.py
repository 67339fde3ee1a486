"""The Graph API for WhatsApp over HTTPS with the bearer token: `POST {api}/{phone_number_id}/
messages` and `/media`, media through `GET {api}/{media_id}` → a URL fetched with the token.
Errors come as `{"error": {"message", "type", "code", "error_data": {"details"}}}`."""

from __future__ import annotations

from typing import Any

import httpx

from frontdesk.config import Settings
from frontdesk.kit import http
from frontdesk.kit.security import check_outbound_url

# Throttling codes: Cloud API (130429), pair rate (131056), account (80007), app (4).
THROTTLED = frozenset({4, 80007, 130429, 131056})


class GraphError(Exception):
    def __init__(
        self, status: int, code: int | None, message: str, *, retry_after: float | None = None
    ):
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
        """Meta refused this request for good (bad number, outside the window, bad token)."""
        return 400 <= self.status < 500 and not self.throttled


class GraphApi:
    def __init__(self, settings: dict[str, Any], app: Settings, *, timeout: float | None = None):
        self.base = str(settings.get("api_base_url") or "").rstrip("/")
        self.phone_number_id = str(settings.get("phone_number_id") or "")
        self.token = str(settings.get("access_token") or "")
        self.app = app
        self.timeout = timeout if timeout is not None else app.webhook_timeout_seconds

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _check(self, url: str) -> None:
        # At call time too: DNS may have changed since the inbox was saved (SSRF guard).
        check_outbound_url(url, allow_private=self.app.allow_private_webhooks)

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /{phone_number_id}/messages with `messaging_product` set."""
        self._check(self.base)
        url = f"{self.base}/{self.phone_number_id}/messages"
        body = {"messaging_product": "whatsapp", **payload}
        async with http.calls(self.timeout) as client:
            response = await client.post(url, json=body, headers=self._auth)
        return _result(response)

    async def phone_number(self) -> dict[str, Any]:
        """The number itself (GET /{phone_number_id}): its display number, verified name and
        quality rating. Test connection: proves the token may use this number."""
        self._check(self.base)
        url = f"{self.base}/{self.phone_number_id}"
        fields = {"fields": "display_phone_number,verified_name,quality_rating"}
        async with http.calls(self.timeout) as client:
            response = await client.get(url, params=fields, headers=self._auth)
        return _result(response)

    async def upload(self, filename: str, data: bytes, content_type: str) -> str:
        """A file uploaded for sending (POST /{phone_number_id}/media): its media id."""
        self._check(self.base)
        url = f"{self.base}/{self.phone_number_id}/media"
        async with http.calls(self.timeout) as client:
            response = await client.post(
                url,
                data={"messaging_product": "whatsapp", "type": content_type},
                files={"file": (filename, data, content_type)},
                headers=self._auth,
            )
        return str(_result(response).get("id") or "")

    async def download(self, media_id: str, *, max_bytes: int) -> tuple[str, bytes]:
        """(mime type, bytes) of a file the customer sent: its URL from GET /{media_id},
        then the URL itself, both with the bearer token."""
        self._check(self.base)
        async with http.calls(self.timeout) as client:
            info = _result(await client.get(f"{self.base}/{media_id}", headers=self._auth))
            url = str(info.get("url") or "")
            if not url:
                raise GraphError(404, None, "media has no url")
            if int(info.get("file_size") or 0) > max_bytes:
                raise GraphError(413, None, f"file is over {max_bytes} bytes")
            self._check(url)
            response = await client.get(url, headers=self._auth)
        if response.status_code != 200:
            raise GraphError(response.status_code, None, "media download failed")
        if len(response.content) > max_bytes:
            raise GraphError(413, None, f"file is over {max_bytes} bytes")
        return str(info.get("mime_type") or "application/octet-stream"), response.content


def _result(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= response.status_code < 300 and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise GraphError(response.status_code, None, f"HTTP {response.status_code}")
    details = (
        (error.get("error_data") or {}).get("details")
        if isinstance(error.get("error_data"), dict)
        else None
    )
    message = str(error.get("message") or f"HTTP {response.status_code}")
    if details and details not in message:
        message = f"{message} ({details})"
    code = error.get("code")
    retry = response.headers.get("retry-after", "")
    return_after = float(retry) if retry.replace(".", "", 1).isdigit() else None
    raise GraphError(
        response.status_code,
        int(code) if isinstance(code, int) else None,
        message,
        retry_after=return_after,
    )
