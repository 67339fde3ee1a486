"""UI strings through Babel catalogues (en is the source; ar and fa are translated), and
locale-aware dates and numbers with the digits each language writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import (
    TIMEDELTA_UNITS,
    format_date,
    format_time,
    format_timedelta,
    get_datetime_format,
)
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
    """The moment in Babel's short form, written in its own zone (babel.dates.format_datetime
    "short": the language's date and time patterns joined by its datetime pattern). Neither
    short pattern shows seconds or a zone, so the date is remembered per day and the time per
    minute (~50 µs of Babel each otherwise; a timeline's moments are all different)."""
    if value is None:
        return ""
    lang = language(lang)
    return (
        _short_joined(lang)
        .replace("{0}", _short_time(value.hour, value.minute, lang))
        .replace("{1}", _short_date(value.date(), lang))
    )


@cache
def _short_joined(lang: str) -> str:
    return str(get_datetime_format("short", locale=_locale(lang))).replace("'", "")


@lru_cache(maxsize=4096)  # at most 1,440 minutes per language
def _short_time(hour: int, minute: int, lang: str) -> str:
    return localise_digits(format_time(time(hour, minute), "short", locale=_locale(lang)), lang)


@lru_cache(maxsize=4096)
def _short_date(day: date, lang: str) -> str:
    return localise_digits(format_date(day, "short", locale=_locale(lang)), lang)


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


# "5 min. ago" by what Babel's format_timedelta words it by (threshold 0.85, granularity
# second): its direction, unit and rounded count — nothing else changes its text.
_RELATIVE: dict[tuple[bool, str, int, str], str] = {}
_RELATIVE_MAX = 4096


def format_relative(delta: timedelta, lang: str) -> str:
    """ "5 min. ago" / "in 2 days" in the language, its digits localised; Babel's words,
    remembered by what decides them (~20 µs each otherwise, and a list writes 100)."""
    lang = language(lang)
    seconds = delta.total_seconds()
    key = (seconds >= 0, *_rounded(abs(seconds)), lang)
    text = _RELATIVE.get(key)
    if text is None:
        text = format_timedelta(delta, add_direction=True, format="short", locale=_locale(lang))
        text = localise_digits(text, lang)
        if len(_RELATIVE) < _RELATIVE_MAX:
            _RELATIVE[key] = text
    return text


def _rounded(seconds: float) -> tuple[str, int]:
    """The unit and count Babel's format_timedelta picks for `seconds` (its own loop)."""
    for unit, per_unit in TIMEDELTA_UNITS:
        value = seconds / per_unit
        if value >= 0.85 or unit == "second":
            if unit == "second" and value > 0:
                value = max(1, value)
            return unit, round(value)
    return "second", 0  # not reached: "second" is the last unit
