"""HMAC signatures, token hashing, password hashing, HTML sanitising, the SSRF guard and
the JSON nesting limit."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import nh3
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from frontdesk.kit.errors import Invalid

SIGNATURE_PREFIX = "sha256="

# argon2id costs ~100 ms of CPU and 64 MiB per hash. On the event loop, 16 concurrent logins
# stalled every other request for seconds; here they queue for two threads (argon2 releases
# the GIL), which also caps the memory a burst of logins can take.
PASSWORD_THREADS = 2
_password_pool = ThreadPoolExecutor(PASSWORD_THREADS, thread_name_prefix="password")


@dataclass(frozen=True)
class PasswordCost:
    """argon2id's work factors for new hashes (Settings.password_*). A hash records its own
    cost, so any hash verifies whatever the cost set now; only new hashes follow it."""

    time_cost: int = 3
    memory_kib: int = 65536  # argon2id's recommended 3 passes over 64 MiB (pwdlib's default)


RECOMMENDED = PasswordCost()


@cache
def _hasher(cost: PasswordCost) -> PasswordHash:
    return PasswordHash((Argon2Hasher(time_cost=cost.time_cost, memory_cost=cost.memory_kib),))


def hash_password(password: str, cost: PasswordCost = RECOMMENDED) -> str:
    return _hasher(cost).hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _hasher(RECOMMENDED).verify(password, hashed)
    except Exception:
        return False


@cache
def _dummy_hash(cost: PasswordCost) -> str:
    return _hasher(cost).hash(secrets.token_urlsafe(16))


def _verify_or_dummy(password: str, hashed: str | None, cost: PasswordCost) -> bool:
    # An unknown account is checked against a dummy hash of the cost new hashes get, so its
    # answer takes as long as a known account's (no enumeration by timing).
    ok = verify_password(password, hashed if hashed is not None else _dummy_hash(cost))
    return ok and hashed is not None


async def hash_password_async(password: str, cost: PasswordCost = RECOMMENDED) -> str:
    """hash_password off the event loop, in the bounded password pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, hash_password, password, cost)


async def check_password(
    password: str, hashed: str | None, cost: PasswordCost = RECOMMENDED
) -> bool:
    """Verify off the event loop; `hashed=None` (no such account) costs a hash of `cost` and
    fails."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_password_pool, _verify_or_dummy, password, hashed, cost)


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
    """Strip scripts, event handlers, styles and unsafe URL schemes; None stays None. Images
    keep only `cid:` sources (the message's own parts): any other source, relative ones
    included, would make the agent's browser fetch it on sight, with the desk's cookies when
    it is one of our URLs (a GET that acts) and as a read receipt when it is someone else's."""
    if html is None:
        return None
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_only_cid_images,
    )


def _only_cid_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not value.strip().lower().startswith("cid:"):
        return None
    return value


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
    HOST_VERDICTS.check(parts.hostname, parts.port or 443)


class HostVerdicts:
    """The SSRF guard's answer per (host, port), kept for `ttl` seconds: a worker sending to
    one provider host checked it with a blocking DNS lookup on the event loop for every send.
    A refusal is kept as long as an approval (a DNS change is seen within `ttl`). Bounded:
    past `size` hosts, the oldest answers are dropped."""

    def __init__(
        self, ttl: float = 30.0, *, size: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        # (host, port) -> (kept until, None or the refusal's (message, code)).
        self._answers: dict[tuple[str, int], tuple[float, tuple[str, str] | None]] = {}

    def check(self, host: str, port: int) -> None:
        key = (host.lower(), port)
        now = self._clock()
        kept = self._answers.get(key)
        if kept is None or kept[0] <= now:
            kept = (now + self.ttl, self._verdict(host, port))
            self._answers.pop(key, None)
            self._answers[key] = kept
            while len(self._answers) > self.size:
                del self._answers[next(iter(self._answers))]
        if kept[1] is not None:
            raise Invalid(kept[1][0], code=kept[1][1])

    @staticmethod
    def _verdict(host: str, port: int) -> tuple[str, str] | None:
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            return f"cannot resolve host {host!r}", "invalid_url"
        try:
            _public_only([info[4][0] for info in infos], what="URL")
        except Invalid as refused:
            return refused.message, refused.code
        return None


HOST_VERDICTS = HostVerdicts()


def check_outbound_host(host: str, port: int, *, allow_private: bool = False) -> None:
    """The same guard for a server we connect to by host and port (an SMTP relay, an IMAP
    server), when an inbox is saved: an admin must not probe the internal network with it."""
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Invalid(f"cannot resolve host {host!r}", code="invalid_host") from exc
    _public_only([info[4][0] for info in infos], what=f"host {host!r}")


async def public_address(host: str, port: int, *, allow_private: bool = False) -> str:
    """The address to connect to for `host`, resolved and checked at connect time: the
    caller connects to this very address (the name is never resolved again), so a DNS answer
    that changed since the inbox was saved (rebinding) cannot point the connection inward.
    `allow_private` skips only the check."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise Invalid(f"cannot resolve host {host!r}", code="invalid_host") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        _public_only(addresses, what=f"host {host!r}")
    return addresses[0]


async def open_connection(address: str, port: int, *, timeout: float) -> socket.socket:
    """A connected, non-blocking TCP socket to an address `public_address` gave."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


def _public_only(addresses: list[Any], *, what: str) -> None:
    # Every address the name has, not just the first: a client may pick any of them.
    for raw in addresses:
        address = ipaddress.ip_address(str(raw).split("%")[0])
        if not address.is_global:
            raise Invalid(
                f"{what} points to a non-public address ({address})", code="forbidden_url"
            )


# Deeper JSON than any request of ours needs; Python's parser recurses per level, and a
# 100,000-level body would raise RecursionError (a 500) instead of a refusal.
MAX_JSON_DEPTH = 64
_JSON_STRUCTURE = re.compile(rb'["\\\[\]{}]')


class NestingGuard:
    """Measures how deep a JSON text nests while it arrives in pieces, and refuses it past
    `limit` (422 "invalid") before anything parses it. Only quotes, backslashes and brackets
    are looked at (a regex finds them), so long strings and base64 cost next to nothing.
    Nothing is looked at while the text has no more opening brackets in all than `limit`
    (it cannot nest deeper than that): most bodies are counted, not walked."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        self.limit = limit
        self.depth = 0
        self.in_string = False
        self.offset = 0
        self.escaped_at = -1  # absolute position of the character after a backslash
        self._openers = 0
        # The pieces counted so far; None once they are walked (past `limit` openers).
        self._counted: list[bytes] | None = []

    def feed(self, chunk: bytes) -> None:
        if self._counted is not None:
            self._openers += chunk.count(b"[") + chunk.count(b"{")
            if self._openers <= self.limit:
                self._counted.append(chunk)
                return
            counted, self._counted = self._counted, None
            for earlier in counted:
                self._walk(earlier)
        self._walk(chunk)

    def _walk(self, chunk: bytes) -> None:
        for match in _JSON_STRUCTURE.finditer(chunk):
            at = self.offset + match.start()
            if at == self.escaped_at:
                continue
            char = match.group()
            if self.in_string:
                if char == b"\\":
                    self.escaped_at = at + 1
                elif char == b'"':
                    self.in_string = False
            elif char == b'"':
                self.in_string = True
            elif char in b"[{":
                self.depth += 1
                if self.depth > self.limit:
                    raise Invalid(
                        f"JSON nests deeper than {self.limit} levels",
                        details=[{"loc": ["body"], "msg": f"nested deeper than {self.limit}"}],
                    )
            elif char in b"]}":
                self.depth -= 1
        self.offset += len(chunk)


def loads(data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads for untrusted input: too deep a nesting is refused (Invalid), not a
    RecursionError; malformed JSON raises ValueError as json.loads does."""
    NestingGuard(max_depth).feed(data.encode() if isinstance(data, str) else data)
    return json.loads(data)
