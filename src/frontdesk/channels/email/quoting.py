# ruff: noqa: RUF001  (the quote headers are written in many scripts)
"""Split a reply from what it quotes and from its signature, for display only (the full
original is always kept). Gmail, Outlook and Apple Mail styles, in English, Arabic and Persian
(our own patterns), and the other languages mail-parser-reply knows."""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

# Quote headers that name the verb ("wrote:") in the languages of Gmail, Android, Yandex,
# Mail.ru and the desktop clients; used on one line of text or on the text before an HTML
# quote. Russian and other localised Android/Gmail headers omit the verb and end in
# "Name <address>:", which the last pattern takes.
_VERBS = (
    r"wrote|a écrit|schrieb|escribió|ha scritto|schreef|escreveu|skrev|kirjoitti|napisał\(a\)|"
    r"napisał|napisala|написал\(а\)|написал|написала|написав|пишет|yazdı|menulis|έγραψε|"
    r"写道|寫道|작성|كتب|نوشت"
)
_SEPARATORS = (
    r"Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|"
    r"Messaggio originale|Исходное сообщение|Пересылаемое сообщение|Original message|"
    r"الرسالة الأصلية|پیام اصلی|Forwarded message|Переслан\w* сообщение"
)
_QUOTE_HEADER = re.compile(
    # A header names a date or an address: "As I wrote:" in a customer's text is no header.
    rf"^(?:(?=[^\n]*[\d@]).{{0,300}}(?:{_VERBS})[^:：\n]{{0,200}}[:：]"
    rf"|-{{2,}}\s*(?:{_SEPARATORS})\s*-{{2,}}"
    r"|.{0,300}<[^<>\s@]+@[^<>\s]+>\s*[:：])\s*$",
    re.IGNORECASE,
)


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
_HEADERS.append(_QUOTE_HEADER.pattern)
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
    elif match:  # nothing above the header: a reply written below the quote
        body = _below_quote(joined[match.end() :]) or body
    else:
        body = _below_quote(body) or body
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


def _below_quote(text: str) -> str | None:
    """The reply under a leading "> " quote block, when that block is the only quote (an
    answer interleaved with several quotes keeps them all)."""
    lines = text.split("\n")
    start = 0
    while start < len(lines) and (lines[start].startswith(">") or not lines[start].strip()):
        start += 1
    rest = lines[start:]
    quoted = any(line.startswith(">") for line in lines[:start])
    if not quoted or not "".join(rest).strip() or any(line.startswith(">") for line in rest):
        return None
    return "\n".join(rest)


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
    """Re-serialises HTML without the quoted mail, as each client marks it:

    - containers skipped (what follows them stays: a reply written below the quote):
      Gmail `.gmail_quote`, Apple/Thunderbird `blockquote[type=cite]`, `.moz-cite-prefix`,
      Yandex `blockquote.…wmi-quote`, Mail.ru `.mail-quote-collapse`, the bordered
      blockquote of Mail.ru, Outlook Express and Windows Live Mail, Yahoo `.yahoo_quoted`,
      and any `<blockquote>` right after a quote header ("On … wrote:", "… <addr>:",
      localised); a header just above a skipped container goes with it;
    - markers after which everything is the quoted mail (cut): Outlook 365/Hotmail
      `#divRplyFwdMsg`, `#appendonsend`, Hotmail `hr#stopSpelling`, Outlook for Mac
      `#OLK_SRC_BODY_SECTION`, Outlook 2003 `.OutlookMessageHeader`, the Outlook 2007-365
      and Windows Mail header box (`border-top:solid #B5C4DF|#E1E1E1 1.0pt`), and a
      "----- Original Message -----" line (Windows Mail, Outlook Express, Android).

    The output is sanitised afterwards, so this only has to find the quotes, not to be a
    safe writer."""

    VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
    CUT_IDS = {"divrplyfwdmsg", "appendonsend", "stopspelling", "olk_src_body_section"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.skip_depth = 0
        self.cut = False
        self.found = False
        self.last_open = 0  # index in `out` of the latest start tag

    def _is_container(self, tag: str, attrs: dict[str, str | None]) -> bool:
        classes = (attrs.get("class") or "").lower().split()
        style = re.sub(r"\s", "", (attrs.get("style") or "").lower())
        return (
            "gmail_quote" in classes
            or "moz-cite-prefix" in classes
            or "mail-quote-collapse" in classes
            or "yahoo_quoted" in classes
            or any(name.endswith("wmi-quote") for name in classes)
            or (tag == "blockquote" and (attrs.get("type") or "").lower() == "cite")
            # Outlook Express, Windows Live Mail and Mail.ru draw the quote as a bordered box.
            or (tag == "blockquote" and "border-left" in style)
            or (tag == "blockquote" and self._header_before())
        )

    def _is_cut(self, tag: str, attrs: dict[str, str | None]) -> bool:
        ident = (attrs.get("id") or "").lower()
        classes = (attrs.get("class") or "").lower().split()
        style = re.sub(r"\s", "", (attrs.get("style") or "").lower())
        return (
            ident in self.CUT_IDS
            or "outlookmessageheader" in classes
            or ("border-top:solid#b5c4df1.0pt" in style or "border-top:solid#e1e1e11.0pt" in style)
        )

    def _header_before(self) -> bool:
        """Whether the last line written (the text since the last block tag) is a quote
        header; if so it is blanked, as it belongs to the quote."""
        pieces: list[int] = []
        for index in range(len(self.out) - 1, max(len(self.out) - 60, 0) - 1, -1):
            piece = self.out[index]
            if _BLOCK_TAG.match(piece):
                if any(html_lib.unescape(self.out[i]).strip() for i in pieces):
                    break
                continue  # the tags closing the header's own block
            if not piece.startswith("<"):
                pieces.append(index)
        line = " ".join(html_lib.unescape("".join(self.out[i] for i in reversed(pieces))).split())
        if not line or len(line) > 600 or not _QUOTE_HEADER.match(line):
            return False
        for index in pieces:
            self.out[index] = ""
        return True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.cut:
            return
        named = dict(attrs)
        if self.skip_depth:
            if tag not in self.VOID:
                self.skip_depth += 1
            return
        if self._is_cut(tag, named):
            self.cut = self.found = True
            return
        if self._is_container(tag, named):
            self._header_before()  # Yandex, Mail.ru, Android: the header sits above the quote
            self.found = True
            self.skip_depth = 1 if tag not in self.VOID else 0
            return
        self.last_open = len(self.out)
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
        if self.skip_depth or self.cut:
            return
        if "--" in data and _QUOTE_HEADER.match(" ".join(html_lib.unescape(data).split())):
            # "----- Original Message -----": the quoted mail starts with this element.
            del self.out[self.last_open :]
            self.cut = self.found = True
            return
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")


_BLOCK_TAG = re.compile(
    r"</?(div|p|br|blockquote|hr|table|tr|td|li|ul|ol|h\d|body|html)\b", re.IGNORECASE
)

# Any quote _QuoteRemover knows contains one of these (lower-cased): mail without them is
# not re-serialised at all.
_QUOTE_MARKERS = (
    "gmail_quote", "<blockquote", "moz-cite", "divrplyfwdmsg", "appendonsend", "stopspelling",
    "olk_src_body_section", "outlookmessageheader", "border-top:solid", "quote", "-----",
)  # fmt: skip


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
    if not remover.found:
        return html
    stripped = "".join(remover.out)
    text_left = re.sub(r"<[^>]*>|&nbsp;|\s", "", stripped)
    return stripped if text_left else html
