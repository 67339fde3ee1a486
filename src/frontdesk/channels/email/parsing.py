"""Raw RFC 5322 bytes → a `ParsedMail`: any charset, attachments and inline images, sanitised
HTML with remote images blocked, the quoted part and signature split off for display, and
the flags that keep us from answering machines. Broken mail raises `BrokenMail` (quarantine)."""

from __future__ import annotations

import hashlib
import html as html_lib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

import nh3

from frontdesk.channels.email import charsets, quoting
from frontdesk.channels.email.bounces import Bounce, BounceReader
from frontdesk.channels.email.headers import FOLD, Heads, clean, mend_head, sender
from frontdesk.inboxes.port import InboundAttachment
from frontdesk.kit.security import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, safe_filename

# Limits past which a mail is quarantined instead of parsed (each is far beyond real mail).
MAX_HEADER_SECTION = 512 * 1024
MAX_DEPTH = 30
MAX_PARTS = 500
MAX_ID = 300  # messages.external_id is String(300)

# A multipart without a boundary parameter cannot be split; one whose boundary never appears
# is read as one text part (the sender's mailer wrote text and mislabelled it).
_BROKEN_DEFECTS = ("NoBoundaryInMultipartDefect",)
_MSGID = re.compile(r"<[^<>\s]+>")
_AUTOMATED = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer[-_.]?daemon|postmaster|"
    r"bounces?|notifications?|auto[-_.]?confirm|verify|verification)([+._-].*)?$",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|out of (the )?office|abwesenheitsnotiz|"
    r"réponse automatique|رد تلقائي|پاسخ خودکار)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(able|ed)|delivery status notification|mail delivery failed|"
    r"returned mail|failure notice)",
    re.IGNORECASE,
)


# Parsed header values kept per process, and the longest value worth keeping (bounds memory).
HEADER_CACHE = 512
HEADER_CACHE_VALUE = 2048


class _HeaderRegistry(HeaderRegistry):
    """The stdlib registry builds a new class on every header read and parses the header
    again each time; the feed parser and our walker read each part's Content-Type a dozen
    times. Keeping the classes and the recently parsed values cuts parsing by two thirds.
    Header objects are immutable, so sharing one between reads (and mails) is safe."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, type[BaseHeader]] = {}
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        specialised = self.registry.get(name.lower(), self.default_class)
        made = self._classes.get(specialised)
        if made is None:
            made = self._classes[specialised] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value: str) -> BaseHeader:
        if len(value) > HEADER_CACHE_VALUE:
            return super().__call__(name, value)
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            if len(self._parsed) >= HEADER_CACHE:
                self._parsed.clear()
            header = self._parsed[key] = super().__call__(name, value)
        return header


_POLICY = policy.default.clone(header_factory=_HeaderRegistry())


class BrokenMail(Exception):
    """The bytes are not a mail we can take in; the reason goes to the quarantine."""


@dataclass
class ParsedMail:
    message_id: str
    message_key: str
    from_address: str
    from_name: str | None
    subject: str
    to: list[str]
    cc: list[str]
    in_reply_to: list[str]
    references: list[str]
    text: str
    text_full: str
    html: str | None
    date: datetime | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    cids: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    auth: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    remote_images: int = 0
    # What a bounce says about the mail of ours it returns (only for mail flagged "bounce").
    bounce: Bounce | None = None

    @property
    def automated(self) -> bool:
        return bool(self.flags)

    @property
    def sender_forged(self) -> bool:
        """The trusted hop's DMARC verdict says the From address is not authentic."""
        return bool(self.auth.get("trusted")) and self.auth.get("dmarc") == "fail"


def message_key(message_id: str) -> str:
    return hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def external_id(message_id: str) -> str:
    """The Message-ID as stored in messages.external_id (long ones hashed to fit)."""
    if len(message_id) <= MAX_ID:
        return message_id
    return f"<{message_key(message_id)}@long-id.invalid>"


def parse_mail(
    raw: bytes,
    *,
    max_attachment_bytes: int = 10 * 1024 * 1024,
    trusted_authserv_id: str | None = None,
    envelope_sender: str | None = None,
    allow_remote_images: bool = False,
) -> ParsedMail:
    """Parse one mail; raises BrokenMail for what must go to the quarantine."""
    head_end = _header_end(raw)
    if head_end > MAX_HEADER_SECTION:
        raise BrokenMail(f"header section is over {MAX_HEADER_SECTION} bytes")
    msg, heads, repairs = _read_head(raw)
    from_name, from_address = _sender(heads, repairs)
    walker = _Walker(max_attachment_bytes)
    walker.notes += repairs
    walker.walk(msg, 0)
    raw_text = "\n\n".join(t for t in walker.texts if t.strip())
    raw_html = "\n".join(walker.htmls) or None
    if not raw_text and raw_html:
        raw_text = html_to_text(raw_html)
    message_id = _message_id(heads, raw)
    mail = ParsedMail(
        message_id=message_id,
        message_key=message_key(message_id),
        from_address=from_address,
        from_name=from_name,
        subject=clean(charsets.decode_header(heads.get("subject")))[:2000],
        to=heads.addresses("to")
        + heads.addresses("delivered-to")
        + heads.addresses("x-original-to"),
        cc=heads.addresses("cc"),
        in_reply_to=_ids(heads.get("in-reply-to")),
        references=_ids(heads.get("references")),
        text=quoting.strip_text(raw_text),
        text_full=raw_text,
        html=None,
        date=_date(heads),
        attachments=walker.attachments,
        cids=walker.cids,
        notes=walker.notes,
    )
    if raw_html is not None:
        display = raw_html if allow_remote_images else quoting.strip_html(raw_html)
        mail.html, mail.remote_images = sanitize_mail_html(display, allow_remote_images)
    mail.flags = _flags(heads, mail, walker.report, envelope_sender)
    if "bounce" in mail.flags:
        mail.bounce = walker.bounce.result(
            headers=heads.values,
            references=[*mail.in_reply_to, *reversed(mail.references)],
            texts=walker.texts,
        )
    mail.auth = authentication_results(
        heads.values.get("authentication-results", []), trusted_authserv_id
    )
    return mail


def _header_end(raw: bytes) -> int:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


class _Walker:
    """Collects text, HTML and attachments depth-first, refusing absurd structures."""

    def __init__(self, max_attachment_bytes: int) -> None:
        self.max_attachment_bytes = max_attachment_bytes
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[InboundAttachment] = []
        self.cids: dict[str, int] = {}
        self.notes: list[str] = []
        self.parts = 0
        self.report = False
        self.bounce = BounceReader()

    def walk(self, part: Message, depth: int) -> None:
        self.parts += 1
        if depth > MAX_DEPTH:
            raise BrokenMail(f"MIME structure nested deeper than {MAX_DEPTH}")
        if self.parts > MAX_PARTS:
            raise BrokenMail(f"more than {MAX_PARTS} MIME parts")
        defects = {type(d).__name__ for d in part.defects}
        if defects & set(_BROKEN_DEFECTS):
            raise BrokenMail(f"undecodable MIME: {', '.join(sorted(defects))}")
        ctype = part.get_content_type()
        if ctype == "multipart/report":
            self.report = str(part.get_param("report-type") or "").lower() == "delivery-status"
        if ctype == "message/rfc822":  # a forwarded mail stays one attachment, unopened
            self.bounce.original(part)
            self._attach(part, ctype, _filename(part))
            return
        if ctype == "message/delivery-status":  # parsed into blocks by the stdlib
            self.texts.append(self.bounce.delivery_status(part))
            return
        if ctype.startswith("multipart/") and not part.is_multipart():
            # Its boundary never appears: the sender's mailer wrote one text and mislabelled it.
            self.notes.append("multipart whose boundary never appears: read as one text")
            text = decode_text(part)
            (self.htmls if _HTML_START.match(text) else self.texts).append(text)
            return
        if part.is_multipart():
            payload = part.get_payload()
            if not isinstance(payload, list):
                raise BrokenMail("undecodable MIME: multipart without parts")
            for child in payload:
                if isinstance(child, Message):
                    self.walk(child, depth + 1)
            return
        disposition = part.get_content_disposition()
        filename = _filename(part)
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            (self.texts if ctype == "text/plain" else self.htmls).append(decode_text(part))
        elif ctype == "message/feedback-report":
            self.texts.append(decode_text(part))
        else:
            if ctype in ("text/rfc822-headers", "message/rfc822-headers"):
                self.bounce.original_headers(decode_text(part))
            self._attach(part, ctype, filename)

    def _name_for(self, part: Message, ctype: str) -> str:
        """A name for an unnamed part: a forwarded mail's subject, an inline image's
        Content-ID (Outlook's "image001.jpg@01DA…"), else its place and type."""
        extension = _extension(ctype)
        if ctype == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            subject = ""
            if isinstance(first, Message):
                raw = next((str(v) for k, v in first.raw_items() if k.lower() == "subject"), "")
                subject = clean(_UNSAFE_NAME.sub(" ", charsets.decode_header(FOLD.sub("", raw))))
            return f"{subject[:150].strip(' .') or 'message'}.eml"
        cid = (part.get("content-id") or "").strip().strip("<>").split("@", 1)[0]
        cid = _UNSAFE_NAME.sub("_", cid)[:150].strip(" .")
        if cid:
            return cid if mimetypes.guess_type(cid, strict=False)[0] else f"{cid}{extension}"
        return f"part-{len(self.attachments) + 1}{extension}"

    def _attach(self, part: Message, ctype: str, filename: str | None) -> None:
        if ctype == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            data = first.as_bytes() if isinstance(first, Message) else b""
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        name = safe_filename(filename or self._name_for(part, ctype), ctype)
        if len(data) > self.max_attachment_bytes:
            self.notes.append(f"attachment {name!r} over the size limit: kept only in the original")
            return
        cid = (part.get("content-id") or "").strip().strip("<>")
        if cid:
            self.cids[cid] = len(self.attachments)
        self.attachments.append(InboundAttachment(name, ctype[:200], data))


def decode_text(part: Message) -> str:
    """A text part as str: its declared charset's superset, then UTF-8, then a guess."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    return charsets.decode(payload, part.get_content_charset())


def _parse(raw: bytes) -> EmailMessage:
    try:
        msg = BytesParser(policy=_POLICY).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it raises is truly broken
        raise BrokenMail(f"unparseable: {exc.__class__.__name__}") from exc
    assert isinstance(msg, EmailMessage)
    return msg


def _read_head(raw: bytes) -> tuple[EmailMessage, Heads, list[str]]:
    """The parsed mail, its headers, and notes on what was repaired: a header section that
    a junk first line or a badly folded line ended early is read again, mended."""
    msg = _parse(raw)
    heads = Heads(msg)
    if not any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in msg.defects):
        return msg, heads, []
    mended = mend_head(raw)
    if mended is None:
        return msg, heads, []
    repaired, note = mended
    msg2 = _parse(repaired)
    heads2 = Heads(msg2)
    if len(heads2.values) <= len(heads.values):
        return msg, heads, []
    return msg2, heads2, [note]


def _sender(heads: Heads, notes: list[str]) -> tuple[str | None, str]:
    found = sender(heads, notes)
    if found is None:
        raise BrokenMail("no usable From address")
    return found


def _ids(value: str) -> list[str]:
    return [external_id(found) for found in _MSGID.findall(value)]


def _message_id(heads: Heads, raw: bytes) -> str:
    found = _MSGID.findall(heads.get("message-id"))
    if found:
        return external_id(found[0])
    # No Message-ID (it happens): the bytes themselves are the identity, so a retry dedupes.
    return f"<{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"


def _date(heads: Heads) -> datetime | None:
    try:
        value = parsedate_to_datetime(heads.get("date"))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo else None


def _filename(part: Message) -> str | None:
    """The part's filename; read from the raw header when the stdlib could not decode it
    (8-bit bytes, or an encoded word whose label is narrower than its text)."""
    try:
        name = part.get_filename()
    except Exception:
        name = "attachment"
    if not name or (not _UNDECODED.search(name) and "=?" not in name):
        return name or None
    for header_name, param in _NAME_PARAMS:
        for key, value in part.raw_items():
            found = key.lower() == header_name and param.search(str(value))
            if found:
                return charsets.decode_header(found[1] if found[1] is not None else found[2])
    return name


_UNDECODED = re.compile("[\ufffd\udc80-\udcff]")
_HTML_START = re.compile(r"\s*<(!doctype|html|head|body|div|p|table)\b", re.IGNORECASE)
_UNSAFE_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f]+')


def _raw_param(name: str) -> re.Pattern[str]:
    return re.compile(rf'(?:^|;)\s*{name}\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', re.I)


_NAME_PARAMS = (
    ("content-disposition", _raw_param("filename")),
    ("content-type", _raw_param("name")),
)


def _extension(ctype: str) -> str:
    if ctype == "message/rfc822":
        return ".eml"
    return mimetypes.guess_extension(ctype, strict=False) or ".bin"


def sanitize_mail_html(html: str, allow_remote_images: bool) -> tuple[str, int]:
    """nh3 with our allow-list; images only from cid: (the mail's own parts) unless the agent
    allowed remote ones (a remote image is a read receipt and a tracking pixel)."""
    blocked = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag == "img" and attribute == "src":
            if value.lower().startswith("cid:"):
                return value
            if allow_remote_images and value.lower().startswith("https://"):
                return value
            blocked += 1
            return None
        return value

    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "cid"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=keep,
    )
    return cleaned, blocked


_BLOCK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d|/blockquote)\b[^>]*>", re.IGNORECASE)


def html_to_text(html: str) -> str:
    with_breaks = _BLOCK.sub("\n", html)
    bare = nh3.clean(with_breaks, tags=set(), attributes={})
    lines = (" ".join(line.split()) for line in html_lib.unescape(bare).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _flags(heads: Heads, mail: ParsedMail, report: bool, envelope_sender: str | None) -> list[str]:
    flags: set[str] = set()
    auto = heads.get("auto-submitted").strip().lower()
    if auto and not auto.startswith("no"):
        flags.add("auto_reply")
    if any(heads.get(h) for h in ("x-autoreply", "x-autorespond", "x-autoresponder")):
        flags.add("auto_reply")
    precedence = heads.get("precedence").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        flags.add("bulk")
    elif precedence == "auto_reply":
        flags.add("auto_reply")
    if heads.get("list-id") or heads.get("list-unsubscribe"):
        flags.add("bulk")
    if _AUTO_SUBJECT.match(mail.subject):
        flags.add("auto_reply")
    local = mail.from_address.rsplit("@", 1)[0]
    if report or heads.get("x-failed-recipients") or _BOUNCE_SUBJECT.match(mail.subject):
        flags.add("bounce")
    if local.lower() in ("mailer-daemon", "postmaster") or envelope_sender == "":
        flags.add("bounce" if report or "daemon" in local.lower() else "auto_reply")
    if _AUTOMATED.match(local) or heads.get("return-path").strip() == "<>":
        flags.add("automated_sender")
    return sorted(flags)


_RESULT = re.compile(r"\b(spf|dkim|dmarc|arc)\s*=\s*([a-z]+)", re.IGNORECASE)


def authentication_results(values: list[str], trusted_authserv_id: str | None) -> dict[str, Any]:
    """SPF/DKIM/DMARC verdicts from the topmost Authentication-Results header written by the
    trusted receiving hop. Anything further down may have been written by the sender."""
    if not trusted_authserv_id:
        return {"trusted": False, "reason": "no trusted hop configured"}
    wanted = trusted_authserv_id.strip().lower()
    for value in values:  # the Authentication-Results headers, topmost first
        text = " ".join(value.split())
        authserv = text.split(";", 1)[0].strip().split(" ")[0].lower()
        if authserv != wanted:
            continue
        verdicts: dict[str, Any] = {"trusted": True, "authserv_id": authserv}
        for method, result in _RESULT.findall(text):
            verdicts.setdefault(method.lower(), result.lower())
        return verdicts
    return {"trusted": False, "reason": f"no Authentication-Results from {wanted}"}
