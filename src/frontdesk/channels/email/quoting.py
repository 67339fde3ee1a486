"""Split a reply from what it quotes and from its signature, for display only (the full
original is always kept). Gmail, Outlook and Apple Mail styles, in English, Arabic and Persian
(our own patterns), and the other languages mail-parser-reply knows."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

_HEADERS = [
    # Gmail / Apple Mail / Thunderbird: "On <date>, <name> <addr> wrote:" (may wrap once).
    r"^(On|Le|Am|El|Il|Op)\s.{0,300}(wrote|a écrit|schrieb|escribió|ha scritto|schreef)\s*:\s*$",
    r"^-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}",
    r"^-{2,}\s*Forwarded message\s*-{2,}",
    r"^_{8,}\s*$",
    # Outlook: a header block "From: …" followed by "Sent:"/"Date:" within two lines.
    r"^\*?(From|De|Von|من|از)\s*:\*?\s.+\n(.*\n)?\*?(Sent|Date|Envoyé|Gesendet|التاريخ|تاريخ|"
    r"تاريخ الإرسال|ارسال|تاریخ)\s*:",
    # Arabic: "في <date>، كتب <name>:" / "<name> كتب:"
    r"^(في|بتاريخ)\s.{0,300}كتب.{0,200}:\s*$",
    r"^.{0,200}\sكتب\s*:\s*$",
    # Persian: "در <date>، <name> نوشت:"
    r"^(در|On)\s.{0,300}نوشت.{0,200}:\s*$",
    r"^.{0,200}\sنوشت\s*:\s*$",
]
_HEADER = re.compile("|".join(f"(?:{h})" for h in _HEADERS), re.MULTILINE | re.IGNORECASE)
_MOBILE = re.compile(
    r"^(Sent from my \w+.*|Get Outlook for \w+.*|أرسلت من .*|ارسال شده از .*|"
    r"Von meinem \w+ gesendet)\s*$",
    re.IGNORECASE,
)
_parser = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl"])


def strip_text(text: str) -> str:
    """The new part of a reply: cut at the first quote header, trailing '>' quotes and the
    signature. Falls back to the whole text when nothing new would remain."""
    body = text.replace("\r\n", "\n")
    joined = _join_wrapped_header(body)
    match = _HEADER.search(joined)
    if match and joined[: match.start()].strip():
        body = joined[: match.start()]
    lines = body.rstrip().split("\n")
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    lines = _drop_signature(lines)
    result = "\n".join(lines).strip()
    if result and result == text.strip():
        try:
            other = (_parser.parse_reply(text=result) or "").strip()
        except Exception:
            other = ""
        if other and len(other) < len(result):
            result = other
    return result or text.strip()


def _join_wrapped_header(text: str) -> str:
    # Gmail wraps long "On … <addr>\nwrote:" lines; rejoin so one pattern sees the whole line.
    return re.sub(r"\n(?=\S*\s?(wrote|كتب|نوشت)\s*:\s*$)", " ", text, flags=re.MULTILINE)


def _drop_signature(lines: list[str]) -> list[str]:
    for index in range(len(lines) - 1, max(len(lines) - 15, 0) - 1, -1):
        if lines[index] in ("-- ", "--", "—") and index > 0:
            return lines[:index]
    if lines and _MOBILE.match(lines[-1].strip()):
        return lines[:-1]
    return lines


class _QuoteRemover(HTMLParser):
    """Re-serialises HTML without Gmail/Apple/Outlook quote containers. The output is
    sanitised afterwards, so this only has to find the quotes, not to be a safe writer."""

    VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.skip_depth = 0
        self.stack: list[str] = []
        self.cut = False

    def _is_quote(self, tag: str, attrs: dict[str, str | None]) -> bool:
        classes = (attrs.get("class") or "").split()
        ident = attrs.get("id") or ""
        return (
            "gmail_quote" in classes
            or (tag == "blockquote" and (attrs.get("type") or "").lower() == "cite")
            or ident in ("divRplyFwdMsg", "appendonsend")
            or "moz-cite-prefix" in classes
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.cut:
            return
        named = dict(attrs)
        if self.skip_depth:
            if tag not in self.VOID:
                self.skip_depth += 1
            return
        if self._is_quote(tag, named):
            if (named.get("id") or "") in ("divRplyFwdMsg", "appendonsend"):
                self.cut = True  # Outlook: everything after the marker is the quoted mail
                return
            self.skip_depth = 1 if tag not in self.VOID else 0
            return
        self.out.append(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> is one element: a start and an end tag ("</br>" reads as a second <br>).
        depth = self.skip_depth
        self.handle_starttag(tag, attrs)
        self.skip_depth = depth  # a quote container closed as soon as it opened

    def handle_endtag(self, tag: str) -> None:
        if self.cut:
            return
        if self.skip_depth:
            self.skip_depth -= 1
            return
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth and not self.cut:
            self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")


# Every quote container _QuoteRemover knows names one of these (lower-cased).
_QUOTE_MARKERS = ("gmail_quote", "cite", "divrplyfwdmsg", "appendonsend")


def strip_html(html: str) -> str:
    """The HTML without its quoted part; the whole HTML when nothing would remain."""
    lowered = html.lower()
    if not any(marker in lowered for marker in _QUOTE_MARKERS):
        return html  # nothing to cut: skip re-serialising it (costly for large newsletters)
    remover = _QuoteRemover()
    try:
        remover.feed(html)
        remover.close()
    except Exception:
        return html
    stripped = "".join(remover.out)
    text_left = re.sub(r"<[^>]*>|&nbsp;|\s", "", stripped)
    return stripped if text_left else html
