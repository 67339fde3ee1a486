"""UI strings through Babel catalogues (en is the source; ar and fa are translated), and
locale-aware dates and numbers with the digits each language writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = ("en", "ar", "fa")
RTL_LANGUAGES = frozenset({"ar", "fa"})
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
# Arabic writes Arabic-Indic digits, Persian its own extended forms.
_DIGITS = {
    "ar": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "fa": str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"),
}


def language(value: str | None) -> str:
    return value if value in LANGUAGES else "en"


def direction(lang: str) -> str:
    return "rtl" if lang in RTL_LANGUAGES else "ltr"


# Languages written right to left, for content in any BCP-47 tag (not only the UI's).
_RTL_SCRIPTS = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv", "sd", "ug", "syr"})


def script_direction(tag: str) -> str:
    """`rtl` or `ltr` for text in the language `tag` (`fa-IR`, `ur`, `en-GB`, `az-Arab`)."""
    parts = tag.split("-")
    if "Arab" in parts or "Hebr" in parts:
        return "rtl"
    return "rtl" if parts[0].lower() in _RTL_SCRIPTS else "ltr"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid → msgstr of a language (read once from its .po file; empty for English)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string
    }


def translator(lang: str) -> Callable[..., str]:
    strings = catalogue(language(lang))

    def gettext(text: str, **values: object) -> str:
        translated = strings.get(text, text)
        if values:
            translated = translated.format(
                **{
                    k: localise_digits(str(v), lang) if isinstance(v, int) else v
                    for k, v in values.items()
                }
            )
        return translated

    return gettext


def localise_digits(text: str, lang: str) -> str:
    table = _DIGITS.get(lang)
    return text.translate(table) if table else text


@lru_cache(maxsize=4096)  # Babel's formatting is dear; a chart formats hundreds of cells
def format_number(value: int | float, lang: str) -> str:
    return localise_digits(format_decimal(value, locale=language(lang)), lang)


def format_when(value: datetime | None, lang: str, *, tz: str = "UTC") -> str:
    if value is None:
        return ""
    text = format_datetime(value, "short", tzinfo=None, locale=language(lang))
    return localise_digits(text, lang)
