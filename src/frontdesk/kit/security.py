"""HMAC signatures, token hashing, password hashing, HTML sanitising and the SSRF guard."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from urllib.parse import urlsplit

import nh3
from pwdlib import PasswordHash

from frontdesk.kit.errors import Invalid

_passwords = PasswordHash.recommended()  # argon2id

SIGNATURE_PREFIX = "sha256="

# argon2id costs ~100 ms of CPU and 64 MiB per hash. On the event loop, 16 concurrent logins
# stalled every other request for seconds; here they queue for two threads (argon2 releases
# the GIL), which also caps the memory a burst of logins can take.
PASSWORD_THREADS = 2
_password_pool = ThreadPoolExecutor(PASSWORD_THREADS, thread_name_prefix="password")


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _passwords.verify(password, hashed)
    except Exception:
        return False


@cache
def _dummy_hash() -> str:
    return _passwords.hash(secrets.token_urlsafe(16))


def _verify_or_dummy(password: str, hashed: str | None) -> bool:
    # An unknown account is checked against a dummy hash of the same cost, so its answer
    # takes as long as a known account's (no enumeration by timing).
    ok = verify_password(password, hashed if hashed is not None else _dummy_hash())
    return ok and hashed is not None


async def hash_password_async(password: str) -> str:
    """hash_password off the event loop, in the bounded password pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, hash_password, password)


async def check_password(password: str, hashed: str | None) -> bool:
    """Verify off the event loop; `hashed=None` (no such account) costs the same and fails."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, _verify_or_dummy, password, hashed)


def new_token(prefix: str = "fd") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    # Tokens are high-entropy: a plain SHA-256 is enough and keeps lookups indexable.
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, body: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}


def sanitize_html(html: str | None) -> str | None:
    """Strip scripts, event handlers, styles and unsafe URL schemes; None stays None."""
    if html is None:
        return None
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
    )


# Bidirectional overrides and isolates: "invoice\u202egnp.exe" shows as "invoiceexe.png".
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def safe_filename(name: str | None, content_type: str) -> str:
    """No bidi tricks, control characters or paths in a filename we show or save."""
    clean = "".join(
        c
        for c in (name or "").translate(BIDI_CONTROLS)
        if unicodedata.category(c) not in ("Cc", "Cf")
    )
    clean = clean.replace("/", "_").replace("\\", "_").strip().lstrip(".")
    if not clean:
        ext = {"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html"}.get(
            content_type, ""
        )
        clean = (
            f"attachment{ext}"
            if not content_type.startswith("image/")
            else "image." + content_type[6:]
        )
    return clean[:200]


def check_outbound_url(url: str, *, allow_private: bool = False) -> None:
    """Refuse URLs that would make us call into our own network (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid(f"URL must be http(s) with a host: {url!r}", code="invalid_url")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise Invalid(f"cannot resolve host {parts.hostname!r}", code="invalid_url") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise Invalid(f"URL points to a non-public address ({address})", code="forbidden_url")
