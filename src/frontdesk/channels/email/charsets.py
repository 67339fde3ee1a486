"""Text of any charset, as real mail writes it: labels mapped to the supersets their senders
really use (gb2312 → GB18030, Shift_JIS → cp932, ISO-2022-JP with NEC extensions), encoded
words split anywhere, and undeclared 8-bit bytes read by a measured guess instead of one
fixed fallback. Nothing here raises on bad input: the worst case is replacement characters."""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import unicodedata

# Labels whose senders write a superset of them (Outlook labels GBK text gb2312, Windows
# writes cp932 for Shift_JIS, ks_c_5601-1987 is cp949). Decoding with the superset loses
# nothing on text that keeps to the label.
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "euc-cn": "gb18030", "x-euc-cn": "gb18030", "gb_2312-80": "gb18030", "chinese": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ms_kanji": "cp932", "windows-31j": "cp932", "csshiftjis": "cp932",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "korean": "cp949",
    "big5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "windows-1252": "cp1252",
    "iso-8859-8-i": "iso-8859-8", "tis-620": "cp874",
    "iso-8859-11": "cp874", "iso-8859-9": "cp1254", "iso-8859-13": "cp1257",
}  # fmt: skip
_ISO2022_JP = ("iso-2022-jp", "csiso2022jp", "iso2022jp", "iso-2022-jp-ms", "cp50220",
               "cp50221", "cp50222", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3")  # fmt: skip

# Undeclared bytes: after UTF-8 and windows-1256 (when the bytes fit it), these are tried
# and the one whose characters are the most common of its script wins; ties go to the
# earlier. Measured on the subjects in tests/channels/email/test_charsets.py.
_GUESSES = ("gb18030", "cp932", "big5hkscs", "cp949", "cp1251", "cp1252")


@functools.lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec to read `label` with (its superset), or None when unknown."""
    name = (label or "").strip().strip('"').lower()
    if not name:
        return None
    if name in _ISO2022_JP:
        return "iso-2022-jp"
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(data: bytes, label: str | None) -> str:
    """Bytes labelled `label`: the label's superset, else UTF-8, else a guess."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return _decode_with(data, codec)
        except UnicodeDecodeError:
            pass
        if codec == "cp1252":  # its five unassigned bytes: latin-1 has them all
            return data.decode("latin-1")
    return guess(data)


def _decode_with(data: bytes, codec: str) -> str:
    if codec != "iso-2022-jp":
        return data.decode(codec)
    try:
        return decode_iso2022_jp(data)
    except UnicodeDecodeError:
        # Escapes to other charsets (ISO-2022-JP-2's Korean and Chinese, JIS X 0212/0213).
        for variant in ("iso2022_jp_2", "iso2022_jp_2004"):
            try:
                return data.decode(variant)
            except UnicodeDecodeError:
                continue
        raise


def guess(data: bytes) -> str:
    """Bytes of no (or a wrong) charset: UTF-8 if valid, windows-1256 when every letter it
    gives is Arabic script (our core market), else the likeliest CJK/Cyrillic/Latin codec."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", "replace")
    broken = lenient.count("\ufffd")
    if broken * 10 < sum(1 for c in lenient if ord(c) > 0x7F):
        return lenient  # UTF-8 with a stray byte or two (a truncated line): keep it UTF-8
    if b"\x1b$" in data:  # ISO-2022-JP escapes without a label
        try:
            return decode_iso2022_jp(data)
        except UnicodeDecodeError:
            pass
    arabic = data.decode("cp1256", "replace")
    if fits_arabic(arabic):
        return arabic
    best, best_score = "", -1.0
    for codec in _GUESSES:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _commonness(text, codec)
        if score > best_score:
            best, best_score = text, score
    return best if best_score >= 0 else data.decode("cp1252", "replace")


_ARABIC_PUNCTUATION = frozenset("\u060c\u061b\u061f\u00ab\u00bb")
_ARABIC_JOINERS = frozenset("\u200c\u200d\u00a0")


def fits_arabic(text: str) -> bool:
    """Nine in ten non-ASCII characters are Arabic script in Arabic words: letters and
    marks not glued to Latin letters, its punctuation only before a space or the end."""
    wide = [i for i, c in enumerate(text) if ord(c) > 0x7F]
    if not wide:
        return False
    mixed = _in_mixed_words(text)
    arabic = 0
    for i in wide:
        char = text[i]
        if char in _ARABIC_PUNCTUATION:
            arabic += i + 1 == len(text) or not text[i + 1].isalpha()
        elif ("\u0600" <= char <= "\u06ff" or char in _ARABIC_JOINERS) and i not in mixed:
            arabic += 1
    return arabic >= 0.9 * len(wide)


# A word: a run of anything but spaces, ASCII digits and ASCII punctuation ("发票.pdf" is two).
_WORD_RUN = re.compile(r"[^\s!-@\[-`{-~]+")


def _in_mixed_words(text: str) -> set[int]:
    """Positions of non-ASCII characters in words that also hold ASCII letters ("Año"):
    normal in Latin-1 text, a sign of a wrong guess for any other script."""
    found: set[int] = set()
    for word in _WORD_RUN.finditer(text):
        chars = word[0]
        if any(c.isascii() and c.isalpha() for c in chars):
            found.update(word.start() + i for i, c in enumerate(chars) if ord(c) > 0x7F)
    return found


# The part of each codec's table where ordinary text lives (lead bytes of the common
# characters): GB2312 level 1 and its punctuation, JIS X 0208 kana and level-1 kanji,
# Big5's frequent hanzi, KS X 1001 Hangul. A wrong guess lands outside them.
_CORE = {
    "gb18030": ("gb2312", ((0xA1, 0xA9), (0xB0, 0xD7))),
    "cp932": ("euc_jp", ((0xA1, 0xA5), (0xB0, 0xCF))),
    "big5hkscs": ("big5", ((0xA1, 0xA3), (0xA4, 0xC6))),
    "cp949": ("euc_kr", ((0xA1, 0xA3), (0xB0, 0xC8))),
}


def _commonness(text: str, codec: str) -> float:
    """The share of non-ASCII characters that are common in the script `codec` writes, plus
    a bonus for Korean's spaces between words (its common table overlaps GB2312's)."""
    wide = [i for i, c in enumerate(text) if ord(c) > 0x7F]
    if not wide:
        return 0.0
    mixed = _in_mixed_words(text) if codec != "cp1252" else set()
    common = sum(1 for i in wide if i not in mixed and _common(text[i], codec))
    score = common / len(wide)
    if codec == "cp949" and re.search(r"[\uac00-\ud7a3]+ [\uac00-\ud7a3]+", text):
        score += 0.01
    return score


def _common(char: str, codec: str) -> bool:
    core = _CORE.get(codec)
    if core is not None:
        base, ranges = core
        try:
            lead = char.encode(base)[0]
        except UnicodeEncodeError:
            return False
        return any(low <= lead <= high for low, high in ranges)
    category = unicodedata.category(char)
    if codec == "cp1251":
        return "\u0400" <= char <= "\u04ff"
    return category.startswith("L") and char <= "\u00ff"  # cp1252: Latin-1 letters


def decode_iso2022_jp(data: bytes) -> str:
    """ISO-2022-JP as Japanese mailers write it (CP50220/50221): JIS X 0208 with the NEC and
    IBM rows (①, ㈱, Ⅻ) that no Python iso2022 codec reads, and half-width kana. Converted to
    cp932 bytes, which hold all of them."""
    out = bytearray()
    mode = "ascii"
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x1B:
            escape = data[i + 1 : i + 3]
            if escape in (b"$B", b"$@"):
                mode = "jis"
            elif escape in (b"(B", b"(J"):
                mode = "ascii"
            elif escape == b"(I":
                mode = "kana"
            else:
                raise UnicodeDecodeError("iso-2022-jp", data, i, i + 3, "unknown escape")
            i += 3
            continue
        if byte >= 0x80:
            raise UnicodeDecodeError("iso-2022-jp", data, i, i + 1, "8-bit byte")
        if mode == "jis" and byte > 0x20:
            if i + 1 >= len(data):
                raise UnicodeDecodeError("iso-2022-jp", data, i, i + 1, "truncated")
            out += _jis_to_sjis(byte, data[i + 1])
            i += 2
            continue
        if mode == "jis" and byte in (0x0A, 0x0D):
            mode = "ascii"  # a line end resets the state (RFC 1468)
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        i += 1
    return bytes(out).decode("cp932")


def _jis_to_sjis(first: int, second: int) -> bytes:
    """One JIS X 0208 row/cell pair as its Shift_JIS (cp932) bytes."""
    lead = (first + 1) // 2 + (0x70 if first <= 0x5E else 0xB0)
    odd_row_trail = second + (0x1F if second <= 0x5F else 0x20)
    return bytes((lead, odd_row_trail if first % 2 else second + 0x7E))


_SURROGATE = re.compile("[\udc80-\udcff]")
_WORD = re.compile(r"=\?([^?\s]+?)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"^[ \t\r\n]*$")


def decode_header(value: str) -> str:
    """A raw header value (8-bit bytes surrogate-escaped, as the parser keeps them) as text:
    encoded words decoded with their label's superset — adjacent ones of one charset joined
    first, as senders split multi-byte characters between them — and 8-bit runs guessed."""
    pieces: list[str] = []
    pending: list[tuple[str, bytes]] = []  # adjacent encoded words not yet decoded
    position = 0
    for match in _WORD.finditer(value):
        between = value[position : match.start()]
        if not (pending and _BETWEEN_WORDS.match(between)):
            _flush(pending, pieces)
            pieces.append(eight_bit(between))
        label, kind, payload = match.groups()
        data = _word_bytes(kind, payload)
        if data is None:
            _flush(pending, pieces)
            pieces.append(match[0])
        elif pending and pending[-1][0] == label.lower():
            pending[-1] = (pending[-1][0], pending[-1][1] + data)
        else:
            pending.append((label.lower(), data))
        position = match.end()
    _flush(pending, pieces)
    pieces.append(eight_bit(value[position:]))
    return "".join(pieces)


def _flush(pending: list[tuple[str, bytes]], pieces: list[str]) -> None:
    pieces.extend(decode(data, label) for label, data in pending)
    pending.clear()


def _word_bytes(kind: str, payload: str) -> bytes | None:
    try:
        if kind in "bB":
            return base64.b64decode(payload + "=" * (-len(payload) % 4))
        return binascii.a2b_qp(payload.encode("ascii"), header=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return None


def eight_bit(text: str) -> str:
    """Raw 8-bit bytes (surrogate-escaped by the parser) read by `guess`."""
    if not _SURROGATE.search(text):
        return text
    return guess(text.encode("utf-8", "surrogateescape"))


def quote_words(value: str) -> str:
    """An address header with its encoded words decoded into quoted strings, so that a
    comma or angle bracket inside one ("=?iso-8859-1?Q?B=FCrling,=20Andreas?=") is part of
    the name and not a separator. The text outside encoded words is left as written."""
    if "=?" not in value and not _SURROGATE.search(value):
        return value

    def quoted(match: re.Match[str]) -> str:
        text = decode_header(match[0])
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'

    return eight_bit(_WORDS.sub(quoted, value))


# A run of encoded words, with the quotes some senders wrongly put around them.
_WORDS = re.compile(r'"?' + _WORD.pattern + r"(?:[ \t\r\n]*" + _WORD.pattern + r')*"?')
