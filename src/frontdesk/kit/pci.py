"""Card numbers (PANs) masked out of text before it is stored (PCI DSS 3.3/3.4): a run of
13 to 19 digits that passes the Luhn check, written in ASCII, Arabic-Indic (U+0660..) or
Persian (U+06F0..) digits, with spaces or dashes between its groups, keeps only its last
four digits; every other digit becomes `*`. Other numbers (order ids, phone numbers, dates)
are left as written, and so are digits glued to Latin letters: a run inside a word is part of
a token, a hash or an id (a survey link's signature, say), never a card someone typed. (Masking
those broke about one survey link in 200: a signature's hex holds a Luhn-valid 13-digit run.)"""

from __future__ import annotations

import re

MASK = "*"
_DIGIT = "0-9\u0660-\u0669\u06f0-\u06f9"
# Between two groups of a number: a space (plain, no-break or narrow no-break), or a dash
# with optional spaces around it; bidi marks may sit anywhere in Arabic or Persian text.
_SEP = (
    "[\u200e\u200f\u061c]*"
    "(?:[ \u00a0\u202f]{1,2}|[ \u00a0\u202f]?[-\u2010\u2011\u2013][ \u00a0\u202f]?)"
    "[\u200e\u200f\u061c]*"
)
# A maximal run of digit groups. Checked cheaply first: text without 13 digits in it stops
# at the `_ENOUGH` test, which is most text.
_RUN = re.compile(f"(?<![{_DIGIT}A-Za-z])[{_DIGIT}]+(?:{_SEP}[{_DIGIT}]+)*")
_LETTER = re.compile("[A-Za-z]")
_SEP_CHARS = " \u00a0\u202f-\u2010\u2011\u2013\u200e\u200f\u061c"
_GROUP = re.compile(f"[{_DIGIT}]+")
_ENOUGH = re.compile(f"(?:[{_DIGIT}][^{_DIGIT}]{{0,6}}){{13}}")
_VALUES = {chr(base + d): d for base in (0x30, 0x0660, 0x06F0) for d in range(10)}
MIN_DIGITS, MAX_DIGITS = 13, 19


def redact_cards(text: str) -> str:
    """`text` with every Luhn-valid 13 to 19 digit number masked to its last four digits. A
    number may start and end at any of its run's group boundaries, so a card written after
    another number ("ref 12 4111 1111 1111 1111") is found too. Linear in the text's size."""
    if not text or not _ENOUGH.search(text):
        return text
    return _RUN.sub(_mask_run, text)


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    after = match.string[match.end() : match.end() + 1]
    if after and _LETTER.match(after):
        # Its last group is glued to a word (a token or an id, not a card): the groups
        # before it are checked on their own.
        last = list(_GROUP.finditer(run))[-1].start()
        head = run[:last]
        body = head.rstrip(_SEP_CHARS)
        return _masked(body) + head[len(body) :] + run[last:]
    return _masked(run)


def _masked(run: str) -> str:
    """`run` (digit groups and separators) with its Luhn-valid numbers masked."""
    if not run:
        return run
    # (start, end) offsets in `run` of each group of digits.
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(run)]
    digits = [_VALUES[c] for c in run if c in _VALUES]
    if len(digits) < MIN_DIGITS:
        return run
    # Digit index at which each group starts (and, last, the total).
    starts = [0]
    for start, end in groups:
        starts.append(starts[-1] + end - start)
    masked = [False] * len(digits)
    for first in range(len(groups)):
        for last in range(first, len(groups)):
            lo, hi = starts[first], starts[last + 1]
            if hi - lo > MAX_DIGITS:
                break
            if hi - lo >= MIN_DIGITS and luhn_valid(digits[lo:hi]):
                for i in range(lo, hi - 4):
                    masked[i] = True
    if not any(masked):
        return run
    out, index = [], 0
    for char in run:
        if char in _VALUES:
            out.append(MASK if masked[index] else char)
            index += 1
        else:
            out.append(char)
    return "".join(out)


def luhn_valid(digits: list[int]) -> bool:
    """The Luhn (mod 10) check of card numbers, on digit values, check digit last."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
