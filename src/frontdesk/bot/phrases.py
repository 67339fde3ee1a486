"""What the bot reads in a customer's words: the language they write, a yes or no to "did
that help?", and a request for a person, in English, Arabic and Persian. Every phrase is
compared as a search key (kit.text), so spelling variants (ی/ي, ک/ك, the zero-width
non-joiner, diacritics) meet."""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from frontdesk.kit.text import search_tokens

# Letters Persian writes and Arabic does not (پ چ ژ گ, Persian ye and kaf, Persian digits).
_PERSIAN = re.compile("[\u067e\u0686\u0698\u06af\u06cc\u06a9\u06f0-\u06f9]")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")
_LATIN = re.compile("[A-Za-z]")
# Common Persian words Arabic does not use (as search keys), for Persian typed on an Arabic
# keyboard (ي and ك, no Persian-only letter).
_PERSIAN_WORDS = frozenset(
    search_tokens("را با است می‌خواهم میخوام چطور کنم کند بله از این که هست نیست شما برای چرا")
)
# What only Arabic writes: ta marbuta, alef maksura, hamza carriers, the article al-, and
# common words. Without any of it, a short reply ("نه") keeps the dialogue's language.
_ARABIC_LETTERS = re.compile("[\u0629\u0649\u0623\u0625\u0624\u0626]")
_ARABIC_WORDS = frozenset(search_tokens("لا نعم في على هل أريد ما هذا لم كيف أين متى لماذا"))

YES = {
    "en": ["yes", "y", "yeah", "yep", "yup", "sure", "it did", "it helped", "that helped",
           "helpful", "thanks", "thank you", "solved", "perfect", "great"],
    "ar": ["نعم", "أجل", "ايوه", "أيوة", "بلى", "ساعدني", "شكرا", "شكراً", "تم الحل", "مفيد"],
    "fa": ["بله", "بلی", "آره", "اره", "مرسی", "ممنون", "ممنونم", "کمک کرد", "حل شد", "عالی"],
}  # fmt: skip
NO = {
    "en": ["no", "n", "nope", "nah", "not really", "it did not", "it didn't", "didn't help",
           "did not help", "not helpful", "that did not help", "that didn't help", "no thanks"],
    "ar": ["لا", "كلا", "لم يساعد", "لم يساعدني", "لا يساعد", "غير مفيد", "ليس مفيدا"],
    "fa": ["نه", "خیر", "نخیر", "کمک نکرد", "مفید نبود", "حل نشد", "نه کمک نکرد"],
}  # fmt: skip
# Asking for a person. Compared as whole words anywhere in the message.
PERSON = {
    "en": ["human", "a person", "real person", "an agent", "live agent", "agent please",
           "representative", "operator", "someone real", "talk to someone", "speak to someone",
           "speak with someone", "talk to somebody", "customer service", "real human",
           "a human", "support staff", "speak to a", "talk to a"],
    "ar": ["انسان", "إنسان", "شخص حقيقي", "موظف", "وكيل", "بشري", "التحدث مع شخص",
           "اريد التحدث", "أريد التحدث", "خدمة العملاء", "ممثل خدمة"],
    "fa": ["انسان", "اپراتور", "کارشناس", "پشتیبان", "آدم واقعی", "یک نفر", "یه نفر",
           "با یک شخص", "شخص واقعی", "می‌خواهم صحبت کنم", "میخوام صحبت کنم", "نیروی انسانی"],
}  # fmt: skip
# A yes or no is a short answer: past this many words it is a new question.
SHORT_ANSWER_WORDS = 5


def detect_language(text: str, *, fallback: str = "en") -> str:
    """`fa` for Persian letters or words, `ar` for other Arabic script (unless `fallback`
    is Arabic or Persian and nothing in the text is only Arabic), `en` for Latin, else
    `fallback` (digits, emoji)."""
    if _PERSIAN.search(text):
        return "fa"
    if _ARABIC_SCRIPT.search(text):
        words = search_tokens(text)
        if _PERSIAN_WORDS.intersection(words):
            return "fa"
        arabic = (
            _ARABIC_LETTERS.search(text)
            or _ARABIC_WORDS.intersection(words)
            or any(w.startswith("ال") and len(w) > 3 for w in words)
        )
        return "ar" if arabic or fallback not in ("ar", "fa") else fallback
    if _LATIN.search(text):
        return "en"
    return fallback


@cache
def _keys(table: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(search_tokens(p)) for _, phrases in table for p in phrases)


def _frozen(table: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((lang, tuple(phrases)) for lang, phrases in table.items())


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return n > 0 and any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1))


def verdict(text: str) -> Literal["yes", "no"] | None:
    """The customer's answer to "did that help?", or None when it is something else (a new
    question). A no wins over a yes ("no, thanks")."""
    words = search_tokens(text)
    if not words or len(words) > SHORT_ANSWER_WORDS:
        return None
    if any(_contains(words, p) for p in _keys(_frozen(NO))):
        return "no"
    if any(_contains(words, p) for p in _keys(_frozen(YES))):
        return "yes"
    return None


def asks_for_person(text: str) -> bool:
    """Whether the customer asks to talk to a person (in any of the three languages)."""
    words = search_tokens(text)
    return any(_contains(words, p) for p in _keys(_frozen(PERSON)))
