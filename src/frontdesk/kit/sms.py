"""SMS text rules shared by every SMS-like channel: how many segments a text costs (GSM 03.38
7-bit or UCS-2) and the opt-out keywords (STOP / START / HELP, with Arabic and Persian words).
Pure functions, no I/O."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from frontdesk.kit.errors import Invalid
from frontdesk.kit.text import normalize_phone

# GSM 03.38 basic character set: one septet each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: an escape septet plus the character, so each counts 2.
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

# Characters per message: one segment alone, or each part of a concatenated message (the
# user data header takes the rest).
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    # Septets for GSM-7 (extension characters count 2); UTF-16 code units for UCS-2 (a
    # character outside the BMP, e.g. most emoji, counts 2).
    units: int
    segments: int
    # Units one segment carries at this length (160/153 or 70/67).
    per_segment: int
    # Units left before one more segment is needed.
    remaining: int


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def count_segments(text: str) -> SegmentCount:
    """How the text travels as SMS: GSM-7 when every character is in the GSM 03.38 tables,
    else UCS-2 (Arabic, Persian, emoji...). An empty text is one (empty) segment."""
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return _count("GSM-7", units, GSM7_SINGLE, GSM7_PART, _gsm7_parts(text))
    units = len(text.encode("utf-16-le")) // 2
    return _count("UCS-2", units, UCS2_SINGLE, UCS2_PART, _ucs2_parts(text))


def _count(encoding: Encoding, units: int, single: int, part: int, parts: int) -> SegmentCount:
    per_segment = single if parts == 1 else part
    return SegmentCount(encoding, units, parts, per_segment, max(per_segment * parts - units, 0))


def _gsm7_parts(text: str) -> int:
    """Parts of a concatenated GSM-7 message: an escape pair is never split across two
    parts, so a part may carry 152 septets."""
    units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    if units <= GSM7_SINGLE:
        return 1
    parts, used = 1, 0
    for c in text:
        size = 2 if c in GSM7_EXTENDED else 1
        if used + size > GSM7_PART:
            parts, used = parts + 1, 0
        used += size
    return parts


def _ucs2_parts(text: str) -> int:
    """Parts of a concatenated UCS-2 message: a surrogate pair is never split."""
    units = len(text.encode("utf-16-le")) // 2
    if units <= UCS2_SINGLE:
        return 1
    parts, used = 1, 0
    for c in text:
        size = 2 if ord(c) > 0xFFFF else 1
        if used + size > UCS2_PART:
            parts, used = parts + 1, 0
        used += size
    return parts


Keyword = Literal["stop", "start", "help"]

# Whole-message keywords, compared after trimming, case-folding and Arabic/Persian letter
# folding (ي/ی, ك/ک, hamza forms), so "إلغاء" and "الغاء" are one word.
_KEYWORDS: dict[str, Keyword] = {
    **dict.fromkeys(("stop", "stopall", "unsubscribe", "cancel", "end", "quit"), "stop"),
    **dict.fromkeys(("start", "unstop"), "start"),
    **dict.fromkeys(("help",), "help"),
    # Arabic: stop, halt, cancel; start, begin; help.
    **dict.fromkeys(("توقف", "إيقاف", "إلغاء", "الغاء"), "stop"),
    **dict.fromkeys(("ابدأ", "بدء"), "start"),
    **dict.fromkeys(("مساعدة",), "help"),
    # Persian: cancel, stop; start; guide, help.
    **dict.fromkeys(("لغو", "توقف"), "stop"),
    **dict.fromkeys(("شروع",), "start"),
    **dict.fromkeys(("راهنما", "کمک"), "help"),
}

# Letter variants folded to one form (code points spelled out: they look alike in print).
_ALEF, _YEH, _KEHEH, _HEH = "\u0627", "\u06cc", "\u06a9", "\u0647"
_FOLD = str.maketrans(
    {
        "\u0623": _ALEF, "\u0625": _ALEF, "\u0622": _ALEF, "\u0671": _ALEF,  # hamza/madda alef
        "\u064a": _YEH, "\u0649": _YEH,  # Arabic yeh, alef maksura -> Persian yeh
        "\u0643": _KEHEH,  # Arabic kaf -> keheh
        "\u0629": _HEH, "\u06c0": _HEH,  # teh marbuta, heh with yeh -> heh
        "\u0640": None,  # tatweel
    }
)  # fmt: skip
_MARKS = frozenset(("Mn", "Cf"))  # harakat, ZWNJ and other invisible format characters
_TRIM = " \t\r\n.!؟?،,;:\"'()[]"


def fold(text: str) -> str:
    """The form keywords are compared in: NFKC, case-folded, Arabic/Persian letters folded,
    diacritics and invisible marks dropped, surrounding punctuation trimmed."""
    value = unicodedata.normalize("NFKC", text).casefold().strip(_TRIM)
    value = "".join(c for c in value if unicodedata.category(c) not in _MARKS)
    return value.translate(_FOLD)


_FOLDED: dict[str, Keyword] = {fold(word): kind for word, kind in _KEYWORDS.items()}


def keyword_of(text: str) -> Keyword | None:
    """`stop`, `start` or `help` when the whole message is one of their keywords, else None
    ("stop sending me ads" is a message, not a keyword)."""
    return _FOLDED.get(fold(text))


def sender_address(raw: str, region: str | None) -> str:
    """A sender as E.164 when it is a phone number (national numbers read in `region`), else
    trimmed as given (short codes, alphanumeric sender ids)."""
    value = raw.strip()
    try:
        return normalize_phone(value, region)
    except Invalid:
        return value
