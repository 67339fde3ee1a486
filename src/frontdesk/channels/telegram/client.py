"""The Bot API over HTTPS: `POST {api}/bot{token}/{method}` answering
`{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description", "parameters"}`;
files at `{api}/file/bot{token}/{file_path}`."""

from __future__ import annotations

from typing import Any

import httpx

from frontdesk.config import Settings
from frontdesk.kit import http
from frontdesk.kit.security import check_outbound_url


class TelegramError(Exception):
    def __init__(self, code: int, description: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """Telegram refused this request for good (bad chat, bot blocked, bad token)."""
        return 400 <= self.code < 500 and self.code != 429


class BotApi:
    def __init__(self, settings: dict[str, Any], app: Settings, *, timeout: float | None = None):
        self.base = str(settings.get("api_base_url") or "").rstrip("/")
        self.token = str(settings.get("bot_token") or "")
        self.app = app
        self.timeout = timeout if timeout is not None else app.webhook_timeout_seconds

    def _check(self) -> None:
        # At call time too: DNS may have changed since the inbox was saved (SSRF guard).
        check_outbound_url(self.base, allow_private=self.app.allow_private_webhooks)

    async def call(
        self,
        method: str,
        payload: dict[str, Any] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        timeout: float | None = None,
    ) -> Any:
        self._check()
        url = f"{self.base}/bot{self.token}/{method}"
        async with http.calls(timeout or self.timeout) as client:
            if files:
                data = {k: str(v) for k, v in (payload or {}).items()}
                response = await client.post(url, data=data, files=files)
            else:
                response = await client.post(url, json=payload or {})
        return _result(response)

    async def download(self, file_id: str, *, max_bytes: int) -> tuple[str, bytes]:
        """(file_path, bytes) of a file a user sent, through getFile then the file URL."""
        info = await self.call("getFile", {"file_id": file_id})
        path = str(info.get("file_path") or "")
        if not path:
            raise TelegramError(400, "file has no file_path (it may be over 20 MB)")
        if int(info.get("file_size") or 0) > max_bytes:
            raise TelegramError(413, f"file is over {max_bytes} bytes")
        self._check()
        async with http.calls(self.timeout) as client:
            response = await client.get(f"{self.base}/file/bot{self.token}/{path}")
        if response.status_code != 200:
            raise TelegramError(response.status_code, "file download failed")
        if len(response.content) > max_bytes:
            raise TelegramError(413, f"file is over {max_bytes} bytes")
        return path, response.content


def _result(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TelegramError(response.status_code, f"HTTP {response.status_code}, not JSON")
    if body.get("ok") is True and 200 <= response.status_code < 300:
        return body.get("result")
    parameters = body.get("parameters") or {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    raise TelegramError(
        int(body.get("error_code") or response.status_code),
        str(body.get("description") or f"HTTP {response.status_code}"),
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
    )
