"""Bounces: what a delivery report (RFC 3464 DSN, or a recognisable non-standard bounce) says
about a mail we sent — which mail (by its Message-ID), which recipient, and how it failed.
Only reading here; `service.take_in_many` matches it to our outbound message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

_MSGID = re.compile(r"<[^<>\s]+>")
# Enhanced status codes (RFC 3463) and basic SMTP replies, as bounces quote them.
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY = re.compile(r"\b([45])\d\d[ -]")
_ID_FIELDS = ("original-message-id", "x-original-message-id")


@dataclass
class Recipient:
    address: str
    action: str  # failed | delayed | delivered | relayed | expanded | "" (not said)
    status: str  # e.g. 5.1.1, or "" when the report gives none
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5") or (not self.status and self.action == "failed")


@dataclass
class Bounce:
    """Candidates for the Message-ID of the mail that bounced, strongest first, and the
    report's recipients (empty for a bounce that only says so in prose)."""

    original_ids: list[str] = field(default_factory=list)
    recipients: list[Recipient] = field(default_factory=list)
    text_status: str = ""  # a status code found in the human-readable part

    @property
    def failed(self) -> list[Recipient]:
        return [r for r in self.recipients if r.action not in ("delayed", "delivered", "relayed")]


class BounceReader:
    """Fed the parts of a mail by parsing._Walker; `result` afterwards."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.recipients: list[Recipient] = []

    def delivery_status(self, part: Message) -> str:
        """A message/delivery-status part; returns it as readable text."""
        blocks = part.get_payload()
        lines: list[str] = []
        if not isinstance(blocks, list):
            return ""
        for block in blocks:
            if not isinstance(block, Message):
                continue
            fields = {
                name.lower(): " ".join(str(value).split()) for name, value in block.raw_items()
            }
            lines += [
                f"{name}: {' '.join(str(value).split())}" for name, value in block.raw_items()
            ]
            lines.append("")
            for name in _ID_FIELDS:
                self.ids += _MSGID.findall(fields.get(name, ""))
            recipient = fields.get("final-recipient") or fields.get("original-recipient")
            if recipient:
                self.recipients.append(
                    Recipient(
                        address=_address(recipient),
                        action=fields.get("action", "").lower(),
                        status=_status(fields.get("status", "")),
                        diagnostic=_after_type(fields.get("diagnostic-code", ""))[:500],
                    )
                )
        return "\n".join(lines).strip()

    def original(self, part: Message) -> None:
        """A message/rfc822 part: the returned mail itself."""
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        if isinstance(first, Message):
            for name, value in first.raw_items():
                if name.lower() == "message-id":
                    self.ids += _MSGID.findall(str(value))

    def original_headers(self, text: str) -> None:
        """A text/rfc822-headers part: the returned mail's header section."""
        found = re.search(r"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", text, re.I | re.M)
        if found:
            self.ids += _MSGID.findall(found[1])

    def result(
        self, *, headers: dict[str, list[str]], references: list[str], texts: list[str]
    ) -> Bounce:
        ids = list(self.ids)
        for name in _ID_FIELDS:
            for value in headers.get(name, []):
                ids += _MSGID.findall(value)
        ids += references  # Gmail-style bounces answer the mail: In-Reply-To, References
        for value in headers.get("x-failed-recipients", []):  # Exim, Gmail
            for address in value.split(","):
                if "@" in address and not any(r.address == address.strip().lower()
                                              for r in self.recipients):  # fmt: skip
                    self.recipients.append(Recipient(address.strip().lower(), "failed", "", ""))
        prose = "\n".join(texts)
        # qmail-style bounces quote the returned mail only as text: its Message-ID line first,
        # then any id in it (ours are signed: quoting cannot aim a bounce at another mail).
        for line in re.findall(r"^[ \t>]*message-id:[ \t]*(.*)$", prose, re.I | re.M):
            ids += _MSGID.findall(line)
        ids += _MSGID.findall(prose)
        status = _STATUS.search(prose)
        reply = _REPLY.search(prose)
        text_status = status[0] if status else (f"{reply[1]}.0.0" if reply else "")
        return Bounce(list(dict.fromkeys(ids)), self.recipients, text_status)


def _address(value: str) -> str:
    """'rfc822; gone@example.net' → 'gone@example.net'."""
    return _after_type(value).strip("<> ").lower()


def _after_type(value: str) -> str:
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else value.strip()


def _status(value: str) -> str:
    found = _STATUS.search(value)
    return found[0] if found else ""
