"""The header section as real mail writes it: mended when a junk first line or a lost
fold ended it early, read raw (undeclared 8-bit bytes guessed), and the author found even
when `From` is garbage, missing or names no domain."""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

from frontdesk.channels.email import charsets

# Bidirectional overrides and isolates: "invoice\u202egpj.exe" must not display as "invoiceexe.jpg".
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))

_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_JUNK_LINES = 3  # junk lines we skip before the first header (an mbox ">From ", a banner)


def mend_head(raw: bytes) -> tuple[bytes, str] | None:
    """`raw` with junk lines before the headers dropped and a header line that lost its
    folding whitespace joined to the one before — only where header lines follow it (else
    it is where the body starts, and a blank line is put before it)."""
    lines = raw.split(b"\n")
    start = 0
    while start < min(len(lines), _JUNK_LINES) and not _HEADER_LINE.match(lines[start]):
        if not lines[start].strip():
            return None
        start += 1
    if start >= len(lines) or not _HEADER_LINE.match(lines[start]):
        return None
    notes = [f"skipped {start} junk line(s) before the headers"] if start else []
    out: list[bytes] = []
    index = start
    while index < len(lines):
        line = lines[index]
        if not line.strip(b"\r"):
            break
        if not (_HEADER_LINE.match(line) or line[:1] in (b" ", b"\t")):
            if not _headers_follow(lines, index + 1):
                out.append(b"\r" if line.endswith(b"\r") else b"")
                break
            line = b" " + line
            notes.append("joined a header line that had lost its folding")
        out.append(line)
        index += 1
    if not notes:
        return None
    return b"\n".join(out + lines[index:]), "; ".join(dict.fromkeys(notes))


def _headers_follow(lines: list[bytes], index: int) -> bool:
    for line in lines[index:]:
        if not line.strip(b"\r"):
            return False
        if _HEADER_LINE.match(line):
            return True
    return False


FOLD = re.compile(r"\r?\n(?=[ \t])")


class Heads:
    """The top-level headers as written, unfolded, by lower-case name (undeclared 8-bit
    bytes read by `charsets.guess`; encoded words left for each reader). Addresses, ids,
    dates and flags are read from these directly: the policy's structured parse of each
    would cost more than the rest of the mail (and would parse each again on every read)."""

    def __init__(self, msg: Message) -> None:
        self.values: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            text = charsets.eight_bit(FOLD.sub("", str(value)))
            self.values.setdefault(name.lower(), []).append(text.strip())

    def get(self, name: str) -> str:
        found = self.values.get(name)
        return found[0] if found else ""

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """(display name, address) of every address in every header of that name."""
        values = self.values.get(name)
        if not values:
            return []
        return getaddresses([charsets.quote_words(value) for value in values])

    def addresses(self, name: str) -> list[str]:
        return [a.strip().lower() for _, a in self.pairs(name) if "@" in a]


def clean(value: str) -> str:
    """One line of display text without bidi overrides."""
    return " ".join(value.translate(_BIDI).split())


# Where the author is named when From is missing or holds no address, in order.
_SENDER_HEADERS = ("from", "sender", "reply-to")
_DAEMONS = ("mailer-daemon", "postmaster")


def sender(heads: Heads, notes: list[str]) -> tuple[str | None, str] | None:
    """(display name, address) of the author, or None when no header names one; what had
    to be guessed goes to `notes`."""
    for name in _SENDER_HEADERS:
        for display, address in heads.pairs(name):
            if "@" in address:
                if name != "from":
                    notes.append(f"no usable From: the sender is taken from {name.title()}")
                return (clean(display) or None), address.strip()
    for display, address in heads.pairs("from"):
        # "MAILER-DAEMON (Mail Delivery System)": a bounce from a host that did not qualify
        # its own address. It gets one, on the domain of the bounce's Message-ID.
        if address.strip().lower() in _DAEMONS:
            notes.append("From names no domain: a bounce from the reporting host")
            return (clean(display) or None), f"{address.strip().lower()}@{_daemon_host(heads)}"
    return None


def _daemon_host(heads: Heads) -> str:
    found = re.search(r"@([A-Za-z0-9.-]+\.[A-Za-z]{2,})>", heads.get("message-id"))
    return found[1].lower() if found else "mailer-daemon.invalid"
