"""Survey tokens: `<survey id>.<expiry, unix seconds>.<HMAC>` under a key derived from
SECRET_KEY for this purpose only (kit.security's HMAC-SHA256), so a token can never double as
any other signature. The signature covers the id and the expiry: changing either is a
forgery. Reuse is refused by the survey row itself (one response per survey)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from frontdesk.kit.security import sign

MAX_TOKEN = 200


@dataclass(frozen=True, slots=True)
class SurveyClaims:
    survey_id: int
    expires_at: datetime


def _key(secret_key: str) -> str:
    return hashlib.sha256(f"frontdesk-survey:{secret_key}".encode()).hexdigest()


def _mac(secret_key: str, survey_id: int, expires: int) -> str:
    return sign(_key(secret_key), f"{survey_id}.{expires}".encode()).removeprefix("sha256=")


def issue(secret_key: str, survey_id: int, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{survey_id}.{expires}.{_mac(secret_key, survey_id, expires)}"


def read(secret_key: str, token: str | None) -> SurveyClaims | None:
    """The claims of a token this server signed (expired or not), else None."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        return None
    survey, expires, mac = token.split(".")
    if not (survey.isdigit() and expires.isdigit()) or len(survey) > 18 or len(expires) > 12:
        return None
    if not hmac.compare_digest(_mac(secret_key, int(survey), int(expires)), mac):
        return None
    return SurveyClaims(int(survey), datetime.fromtimestamp(int(expires), UTC))
