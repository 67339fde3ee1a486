"""Signed visitor tokens (with an expiry) and the site's identity-verification HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import quote

# Sliding: every session start and socket connect hands the widget a renewed token.
DEFAULT_TTL_SECONDS = 30 * 86400


@dataclass(frozen=True, slots=True)
class VisitorClaims:
    inbox_id: int
    key: str
    user_id: str | None
    # Unix seconds after which the token is refused; set by `issue`, read back by `read`.
    expires_at: int = 0

    @property
    def address(self) -> str:
        """The visitor's webchat identity: per inbox, per verified user or per browser."""
        if self.user_id is not None:
            # Quoted so that a user id like "a@b.c" is never mistaken for an e-mail address.
            return f"wc{self.inbox_id}-user-{quote(self.user_id, safe='')}"
        return f"wc{self.inbox_id}-{self.key}"


def _mac(secret_key: str, body: str) -> str:
    # A key of its own: a visitor token can never double as any other signature.
    key = hashlib.sha256(f"frontdesk-webchat-visitor:{secret_key}".encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def issue(
    secret_key: str,
    claims: VisitorClaims,
    *,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> str:
    expires = int((time.time() if now is None else now) + ttl_seconds)
    raw = json.dumps(
        {"i": claims.inbox_id, "k": claims.key, "u": claims.user_id, "e": expires}
    ).encode()
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{body}.{_mac(secret_key, body)}"


def read(secret_key: str, token: str | None) -> VisitorClaims | None:
    """The claims of a token this server signed (expired or not), else None. A token without
    an expiry is not one of ours."""
    if not token or token.count(".") != 1 or len(token) > 2000:
        return None
    body, mac = token.split(".")
    if not hmac.compare_digest(_mac(secret_key, body), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return VisitorClaims(int(data["i"]), str(data["k"]), data.get("u"), int(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None


def expired(claims: VisitorClaims, *, now: float | None = None) -> bool:
    return (time.time() if now is None else now) >= claims.expires_at


def user_hash(inbox_secret: str, user_id: str) -> str:
    """What the site computes server-side: hex HMAC-SHA256(inbox secret, user id)."""
    return hmac.new(inbox_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user(inbox_secret: str, user_id: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(user_hash(inbox_secret, user_id), given or "")
