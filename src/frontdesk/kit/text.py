"""Address normalisation (e-mail lower-cased, phones E.164, other handles trimmed) and text
made storable (what PostgreSQL text cannot hold is replaced)."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator

from frontdesk.kit.errors import Invalid

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{2,63}$"
)
_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{5,}$")
MAX_ADDRESS = 320


def normalize_email(address: str) -> str:
    value = address.strip().lower()
    if value.endswith(".") and "@" in value:
        value = value[:-1]  # the root label of a fully qualified domain: the same address
    if len(value) > MAX_ADDRESS or not _EMAIL.match(value):
        raise Invalid(f"not a valid e-mail address: {address!r}", code="invalid_address")
    return value


def normalize_phone(address: str, region: str | None = None) -> str:
    return _normalized_phone(address, region)


# A pure function of its two strings, asked for every message from a phone (a channel's parse
# and the identity lookup, ~0.1 ms each): customers write again and again from one number.
@functools.lru_cache(maxsize=8192)
def _normalized_phone(address: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(address, region)
    except phonenumbers.NumberParseException as exc:
        raise Invalid(f"not a valid phone number: {address!r}", code="invalid_address") from exc
    if not phonenumbers.is_possible_number(number):
        raise Invalid(f"not a valid phone number: {address!r}", code="invalid_address")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def classify_address(address: str, *, handle_kind: str) -> tuple[str, str]:
    """Return (identity kind, normalised address): e-mails and phones are shared across
    channels so one customer is recognised everywhere; anything else is a channel handle."""
    value = unicodedata.normalize("NFC", address).strip()
    if (
        not value
        or len(value) > MAX_ADDRESS
        or any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
    ):
        raise Invalid(f"not a valid address: {address!r}", code="invalid_address")
    if "@" in value:
        return "email", normalize_email(value)
    if _PHONE_LIKE.match(value) and value.startswith("+"):
        return "phone", normalize_phone(value)
    return handle_kind, value


RAW_KIND = "raw"
# Characters that PostgreSQL text (and so every channel's message) cannot hold: NUL, and the
# lone surrogates that JSON escapes and surrogate-escaped bytes can produce.
_NUL = "\x00"
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: str) -> str:
    """`value` with what a database text column cannot hold replaced by U+FFFD. Inbound text
    goes through here once, before storage (conversations.receiving), so a NUL byte or a lone
    surrogate from any channel is stored visibly instead of failing the write for ever."""
    if _NUL in value:
        value = value.replace(_NUL, REPLACEMENT)
    if value.isascii():  # O(1): most text stops here
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub(REPLACEMENT, value)
    return value


def storable_json(value: Any) -> Any:
    """`storable` applied to every string (keys too) of a JSON-like value."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


def raw_address(address: str) -> tuple[str, str]:
    """An identity for a sender address no rule can normalise (`"Test test@example.com"`,
    `redacted@redacted`): kind `raw`, the text as written without control or format
    characters, spaces collapsed, lower-cased. Its message is stored; nothing is sent to it."""
    value = "".join(
        c
        for c in unicodedata.normalize("NFC", storable(address))
        if unicodedata.category(c) not in ("Cc", "Cf")
    )
    value = " ".join(value.replace(REPLACEMENT, "").split()).lower()[:MAX_ADDRESS]
    return RAW_KIND, value or "(none)"


def one_line(value: str) -> str:
    """A name or subject as an agent or API caller sets it: a line break or another control
    character is refused (422), since it would end up in a mail header."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise ValueError("must be one line, without control characters")
    return value


OneLine = Annotated[str, AfterValidator(one_line)]


# --- Search keys ---------------------------------------------------------------------------
# One folding for every search (the knowledge base, the desktop's search): applied to what is
# indexed and to what is asked, so the two meet whatever way a word was typed.

# Letters that Arabic and Persian write differently for the same word, and the forms that only
# presentation differs in. Hamza carriers (أ إ آ ؤ ئ ۀ) lose their hamza or madda when the
# combining marks are stripped below, so only the base letters need mapping here.
_LETTERS = str.maketrans(
    {
        "\u0649": "\u064a",  # alef maksura → Arabic ya
        "\u06cc": "\u064a",  # Persian ye → Arabic ya
        "\u06d2": "\u064a",  # yeh barree → Arabic ya
        "\u06a9": "\u0643",  # keheh (Persian kaf) → Arabic kaf
        "\u0629": "\u0647",  # ta marbuta → heh
        "\u06c1": "\u0647",  # heh goal → heh
        "\u06be": "\u0647",  # heh doachashmee → heh
        "\u06d5": "\u0647",  # ae → heh
        "\u0671": "\u0627",  # alef wasla → alef
        "\u0621": None,  # a lone hamza is written or left out freely
        "\u0640": None,  # tatweel (kashida), only stretches a line
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian (extended) digits
    }
)
# Combining marks removed from a search key: Latin accents (café = cafe) and Arabic
# diacritics (harakat, shadda, sukun, superscript alef, Quranic marks, the hamza and madda
# that NFKD splits off a carrier). Marks of other scripts (Devanagari vowel signs, Japanese
# dakuten) carry meaning and stay.
_MARKS = re.compile(
    "[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]"
)
# Invisible characters that change how a word is drawn, not which word it is: the zero-width
# non-joiner Persian writes inside words (می‌خواهم = میخواهم), joiners, bidi marks and
# isolates, the soft hyphen and the byte-order mark.
_INVISIBLE = re.compile("[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Scripts written without spaces between words: each character is a token of its own.
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def search_key(value: str) -> str:
    """`value` folded for search: case folded, compatibility forms and accents removed,
    Arabic and Persian letter variants unified, diacritics, tatweel and zero-width characters
    removed, every digit ASCII. Idempotent, so a key may be folded again safely."""
    # Folding may expose a form that folds further (a ligature that decomposes into a
    # letter with a mark, a case fold that adds one): repeat until nothing changes.
    for _ in range(4):
        folded = unicodedata.normalize("NFC", _MARKS.sub("", _fold_once(value)))
        if folded == value:
            break
        value = folded
    return value


def _fold_once(value: str) -> str:
    return unicodedata.normalize("NFKD", _INVISIBLE.sub("", value).casefold()).translate(_LETTERS)


def search_tokens(value: str) -> list[str]:
    """The words of `value`'s search key: runs of letters, digits and marks; punctuation and
    symbols separate words, and each Chinese or Japanese character is a word of its own."""
    key = _UNSPACED.sub(r" \g<0> ", search_key(value))
    return key.translate(_SEPARATORS).split()


# Arabic light stemming ("light10", Larkey, Ballesteros and Connell 2007), on folded words:
# "and", then one definite article, then each of these suffixes in turn, each only when two
# letters at least are left. Measured by bench/stemming.py (known-item search over tweets,
# docs/knowledge.md): MRR@10 0.060 -> 0.070 on ArSarcasm (95 % interval of the gain 0.006 to
# 0.014), level on Persian reviews, whose words share the script.
_AND = "و"
_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
# Taa marbuta folds to heh, so light10's two suffixes with it are the two with heh here.
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")  # noqa: RUF001


@functools.lru_cache(maxsize=65536)
def light_stem(word: str) -> str:
    """`word` (a search key's word) without Arabic's common prefixes and suffixes; any word
    without them (every word of a Latin, Cyrillic or CJK text) unchanged."""
    if len(word) > 3 and word.startswith(_AND):
        word = word[1:]
    for article in _ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 2:
            word = word[len(article) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
    return word


def stemmed_tokens(value: str) -> list[str]:
    """`search_tokens` of `value`, each light-stemmed: the full text's words."""
    return [light_stem(token) for token in search_tokens(value)]


class _Separators(dict[int, int]):
    """str.translate's table: a character that is not a letter, digit or mark becomes a space.
    Each character's category is looked up once per process, then translate reads the table
    in C (was a Python generator over every character of every inbound message's text)."""

    def __missing__(self, code: int) -> int:
        self[code] = code if unicodedata.category(chr(code))[0] in "LNM" else 32
        return self[code]


_SEPARATORS = _Separators()
