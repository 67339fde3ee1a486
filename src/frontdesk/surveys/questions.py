"""What a survey says, in the customer's language (en/ar/fa through the i18n catalogues),
and how each channel carries it: a card in the chat widget, one-click score links in
e-mail, buttons or a list where the channel can carry choices (Capabilities.choices), and a
digit reply everywhere else (SMS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from frontdesk.kit.i18n import direction, language, localise_digits, translator
from frontdesk.surveys.models import SCALES

QUESTIONS = {
    "csat": "How satisfied are you with the help you received?",
    "ces": "How easy was it to get your issue resolved?",
    "nps": "How likely are you to recommend us to a friend or colleague?",
}
# What the two ends of each scale mean.
ENDS = {
    "csat": ("Very dissatisfied", "Very satisfied"),
    "ces": ("Very difficult", "Very easy"),
    "nps": ("Not at all likely", "Extremely likely"),
}
CHOICE_PREFIX = "survey"


def choice_id(survey_id: int, score: int) -> str:
    """The id a button or list row carries back (WhatsApp reply id, Telegram callback data)."""
    return f"{CHOICE_PREFIX}:{survey_id}:{score}"


def parse_choice(value: str) -> tuple[int, int] | None:
    parts = value.strip().split(":")
    if len(parts) != 3 or parts[0] != CHOICE_PREFIX:
        return None
    if not (parts[1].isdigit() and parts[2].isdigit()) or len(parts[1]) > 18 or len(parts[2]) > 2:
        return None
    return int(parts[1]), int(parts[2])


def scores(kind: str) -> list[int]:
    low, high = SCALES[kind]
    return list(range(low, high + 1))


@dataclass
class Asking:
    text: str
    html: str | None = None
    interactive: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def question(kind: str, lang: str) -> str:
    return translator(language(lang))(QUESTIONS[kind])


def digit_hint(kind: str, lang: str) -> str:
    low, high = SCALES[kind]
    _ = translator(language(lang))
    first, last = ENDS[kind]
    return _(
        "Reply with a number from {low} ({first}) to {high} ({last}).",
        low=low, high=high, first=_(first), last=_(last),
    )  # fmt: skip


def card(survey_id: int, kind: str, lang: str, token: str) -> dict[str, Any]:
    """The widget card's data (message meta `survey`): the widget draws the score buttons."""
    _ = translator(language(lang))
    low, high = SCALES[kind]
    first, last = ENDS[kind]
    return {
        "id": survey_id, "kind": kind, "low": low, "high": high, "token": token,
        "question": question(kind, lang), "ends": [_(first), _(last)],
        "labels": [localise_digits(str(n), lang) for n in scores(kind)],
        "thanks": _("Thank you for your answer."), "dir": direction(language(lang)),
    }  # fmt: skip


def by_email(kind: str, lang: str, link: str) -> Asking:
    """Text and HTML with one link per score (`link` + score) and the comment page."""
    _ = translator(language(lang))
    lines = [question(kind, lang), ""]
    cells = []
    for n in scores(kind):
        url = f"{link}?score={n}"
        label = localise_digits(str(n), lang)
        lines.append(f"{label}: {url}")
        cells.append(
            f'<a href="{escape(url)}" style="display:inline-block;padding:8px 12px;margin:2px;'
            f'border:1px solid #888;border-radius:4px;text-decoration:none">{escape(label)}</a>'
        )
    first, last = ENDS[kind]
    lines += ["", f"{localise_digits(str(SCALES[kind][0]), lang)} = {_(first)} · "
              f"{localise_digits(str(SCALES[kind][1]), lang)} = {_(last)}"]  # fmt: skip
    html = (
        f'<div dir="{direction(language(lang))}"><p>{escape(question(kind, lang))}</p>'
        f"<p>{''.join(cells)}</p><p><small>{escape(lines[-1])}</small></p></div>"
    )
    return Asking(text="\n".join(lines), html=html)


def by_choices(survey_id: int, kind: str, lang: str) -> Asking:
    """A list of scores (WhatsApp list message, Telegram inline keyboard)."""
    _ = translator(language(lang))
    first, last = ENDS[kind]
    low, high = SCALES[kind]
    rows = []
    for n in scores(kind):
        label = localise_digits(str(n), lang)
        end = _(first) if n == low else _(last) if n == high else ""
        title = f"{label} · {end}" if end else label
        rows.append({"id": choice_id(survey_id, n), "title": title[:24]})
    # A list section holds at most 10 rows (InteractiveSend): NPS's 11 take two.
    sections = [{"title": "", "rows": rows[i : i + 10]} for i in range(0, len(rows), 10)]
    interactive = {"button": _("Choose a score")[:20], "sections": sections}
    return Asking(text=question(kind, lang), interactive=interactive)


def by_digit(kind: str, lang: str, link: str | None = None) -> Asking:
    text = f"{question(kind, lang)}\n{digit_hint(kind, lang)}"
    return Asking(text=f"{text}\n{link}" if link else text)


def by_link(kind: str, lang: str, link: str) -> Asking:
    _ = translator(language(lang))
    return Asking(text=f"{question(kind, lang)}\n{_('Answer here:')} {link}")
