"""HMAC signatures, token hashing, password hashing, HTML sanitising and the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import socket
import unicodedata
from urllib.parse import urlsplit

import nh3
from pwdlib import PasswordHash

from frontdesk.kit.errors import Invalid

_passwords = PasswordHash.recommended()  # argon2id

SIGNATURE_PREFIX = "sha256="


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _passwords.verify(password, hashed)
    except Exception:
        return False


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


_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def safe_content_type(content_type: str | None) -> str:
    """The bare media type (`type/subtype`, lower-cased, parameters dropped) when it is one,
    else application/octet-stream: no line breaks or other header tricks reach a response."""
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind if _MEDIA_TYPE.match(kind) else "application/octet-stream"


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
