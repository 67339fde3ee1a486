"""E-mail threading: the Message-IDs we generate, the signed Reply-To token, and the hints
an inbound mail carries. A hint is only ever a candidate: `conversations.receive` joins a
conversation only when the sender is its customer."""

from __future__ import annotations

import hashlib
import hmac
import re

from frontdesk.channels.email.parsing import ParsedMail

# <fd.{conversation}.{message}.{signature}@domain>: our Message-IDs name their conversation,
# signed so that nobody can craft a reference into a conversation they have never seen.
_OUR_ID = re.compile(r"^<fd\.(\d+)\.(\d+)\.([0-9a-f]{20})@[^>]+>$")
# local+c{conversation}.{signature}@domain: the Reply-To of every mail we send.
_TOKEN = re.compile(r"^(?P<local>[^+@]+)\+c(?P<conv>\d+)\.(?P<sig>[0-9a-f]{20})@(?P<domain>.+)$")
MAX_REFERENCES = 20


def _sign(key: str, inbox_id: int, value: str) -> str:
    mac = hmac.new(key.encode(), f"{inbox_id}:{value}".encode(), hashlib.sha256)
    return mac.hexdigest()[:20]


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1]


def message_id_for(
    *, key: str, inbox_id: int, conversation_id: int, message_id: int, domain: str
) -> str:
    """Stable across delivery retries: a retried send carries the same Message-ID."""
    signature = _sign(key, inbox_id, f"m:{conversation_id}:{message_id}")
    return f"<fd.{conversation_id}.{message_id}.{signature}@{domain}>"


def reply_address(*, key: str, inbox_id: int, address: str, conversation_id: int) -> str:
    local, domain = address.rsplit("@", 1)
    signature = _sign(key, inbox_id, f"c:{conversation_id}")
    return f"{local}+c{conversation_id}.{signature}@{domain}"


def base_address(address: str) -> str:
    """support+anything@example.com → support@example.com (plus-addressing)."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def conversation_in_address(*, key: str, inbox_id: int, address: str) -> int | None:
    match = _TOKEN.match(address.strip().lower())
    if match is None:
        return None
    conversation = int(match["conv"])
    expected = _sign(key, inbox_id, f"c:{conversation}")
    return conversation if hmac.compare_digest(expected, match["sig"]) else None


def conversation_in_message_id(*, key: str, inbox_id: int, message_id: str) -> int | None:
    found = our_message_in_id(key=key, inbox_id=inbox_id, message_id=message_id)
    return found[0] if found else None


def our_message_in_id(*, key: str, inbox_id: int, message_id: str) -> tuple[int, int] | None:
    """(conversation id, message id) of a Message-ID we generated for this inbox, if signed."""
    match = _OUR_ID.match(message_id.strip())
    if match is None:
        return None
    conversation, message = int(match[1]), int(match[2])
    expected = _sign(key, inbox_id, f"m:{conversation}:{message}")
    return (conversation, message) if hmac.compare_digest(expected, match[3]) else None


def hints(
    mail: ParsedMail, *, key: str, inbox_id: int, recipients: list[str]
) -> tuple[list[int], list[str]]:
    """(verified conversation ids, other referenced Message-IDs), strongest first: the reply
    token in a recipient address, then In-Reply-To, then References from the newest."""
    conversations: list[int] = []
    others: list[str] = []
    for address in [*recipients, *mail.to, *mail.cc]:
        found = conversation_in_address(key=key, inbox_id=inbox_id, address=address)
        if found is not None and found not in conversations:
            conversations.append(found)
    for reference in [*mail.in_reply_to, *reversed(mail.references)]:
        found = conversation_in_message_id(key=key, inbox_id=inbox_id, message_id=reference)
        if found is not None:
            if found not in conversations:
                conversations.append(found)
        elif reference not in others and reference != mail.message_id:
            others.append(reference)
    return conversations, others


def references_header(earlier: list[str]) -> list[str]:
    """RFC 5322 §3.6.4: keep the first and the most recent; drop the middle past a limit."""
    unique = list(dict.fromkeys(item for item in earlier if item))
    if len(unique) <= MAX_REFERENCES:
        return unique
    return [unique[0], *unique[-(MAX_REFERENCES - 1) :]]
