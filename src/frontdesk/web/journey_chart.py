"""The customer journey as one SVG picture for the customer panel: one lane per channel, each
conversation a bar over its time span (coloured by the customer's last measured sentiment,
linked to the conversation), each message a dot on it (inbound dots by their sentiment), and
markers such as survey answers above it. Built on the chart kit's frame: time runs right to
left in Arabic and Persian, dates are written with the language's digits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from babel.dates import format_date
from markupsafe import Markup, escape

from frontdesk.analytics.journey import Journey, Stage
from frontdesk.kit.i18n import language, localise_digits, translator
from frontdesk.web.charts import _empty, _figure, _Frame, _num, _svg, _table

WIDTH = 320
LANE = 30
TOP = 24
# Translated here (the i18n test checks them).
MOODS = {"negative": "negative mood", "neutral": "neutral mood", "positive": "positive mood"}
DIRECTIONS = {"inbound": "Customer wrote", "outbound": "We wrote"}
JOURNEY_STRINGS = (
    "Customer journey", "Conversation", "Stage details", "{n} messages", *MOODS.values(),
    *DIRECTIONS.values(),
)  # fmt: skip


def _day(value: datetime, lang: str) -> str:
    return localise_digits(format_date(value, "short", locale=language(lang)), lang)


def journey_chart(
    journey: Journey, *, lang: str, now: datetime, current: int | None = None
) -> Markup:
    """The picture; `current` highlights the conversation the agent has open."""
    _ = translator(lang)
    title = _("Customer journey")
    lanes = journey.channels
    frame = _Frame(height=TOP + LANE * max(len(lanes), 1) + 6, lang=lang, start=70, width=WIDTH)
    frame.top = TOP
    if not journey.stages:
        return _empty(frame, title, "fd-journey")
    first = min(s.start for s in journey.stages)
    last = max(now, max(s.end for s in journey.stages))
    span = max((last - first).total_seconds(), timedelta(hours=1).total_seconds())

    def at(value: datetime) -> float:
        return frame.length * (value - first).total_seconds() / span

    far_anchor = "start" if frame.rtl else "end"
    near_anchor = "end" if frame.rtl else "start"
    body = [
        f'<text class="tick" x="{_num(frame.x(0))}" y="12" text-anchor="{near_anchor}">'
        f"{escape(_day(first, lang))}</text>",
        f'<text class="tick" x="{_num(frame.x(frame.length))}" y="12" '
        f'text-anchor="{far_anchor}">{escape(_day(last, lang))}</text>',
    ]
    for index, channel in enumerate(lanes):
        y = TOP + index * LANE
        body.append(
            f'<line class="grid" x1="{_num(frame.x(0))}" x2="{_num(frame.x(frame.length))}" '
            f'y1="{y + 15}" y2="{y + 15}"/>'
            f'<text class="tick" x="{_num(frame.axis_label_x())}" y="{y + 19}" '
            f'text-anchor="{frame.axis_anchor}">{escape(channel)}</text>'
        )
    rows = []
    for stage in journey.stages:
        body += _stage(frame, stage, lanes.index(stage.channel), at, lang, current)
        rows.append(((_stage_name(stage, lang), _stage_text(stage, lang)), _href(stage)))
    headers = [_("Conversation"), _("Stage details")]
    svg = _svg(frame, title, body, "fd-journey")
    return _figure(title, svg, _table(title, headers, rows), "fd-journey")


def _href(stage: Stage) -> str:
    return f"/conversations/{stage.conversation_id}"


def _stage_name(stage: Stage, lang: str) -> str:
    return f"#{localise_digits(str(stage.conversation_id), lang)} · {stage.channel}"


def _stage_text(stage: Stage, lang: str) -> str:
    _ = translator(lang)
    parts = [_(stage.status), _day(stage.start, lang), _("{n} messages", n=len(stage.touches))]
    if stage.sentiment:
        parts.append(_(MOODS[stage.sentiment]))
    parts += [m.label for m in stage.markers]
    return " · ".join(parts)


def _stage(
    frame: _Frame,
    stage: Stage,
    lane: int,
    at: Callable[[datetime], float],
    lang: str,
    current: int | None,
) -> list[str]:
    y = TOP + lane * LANE
    start = at(stage.start)
    width = max(at(stage.end) - start, 6.0)
    width = min(width, frame.length - start) if start < frame.length else 6.0
    tone = f" tone-{stage.sentiment}" if stage.sentiment else ""
    here = " current" if stage.conversation_id == current else ""
    tip = f"{_stage_name(stage, lang)} · {_stage_text(stage, lang)}"
    # The bar and its message dots are one link: a click on a dot opens the conversation too.
    out = [
        f'<a href="{_href(stage)}" aria-label="{escape(tip)}">'
        f'<rect class="stage{tone}{here}" x="{_num(frame.rect_x(start, width))}" '
        f'y="{y + 9}" width="{_num(width)}" height="12" rx="3" '
        f'data-value="{stage.conversation_id}"><title>{escape(tip)}</title></rect>',
        *_touches(frame, stage, lane, at, lang),
        "</a>",
    ]
    for marker in stage.markers:
        x = frame.x(at(marker.at))
        tone = f" tone-{marker.tone}" if marker.tone else ""
        out.append(
            f'<polygon class="marker {escape(marker.kind)}{tone}" '
            f'points="{_num(x)},{y} {_num(x + 4)},{y + 4} {_num(x)},{y + 8} {_num(x - 4)},{y + 4}">'
            f"<title>{escape(marker.label)}</title></polygon>"
        )
    return out


def _touches(
    frame: _Frame, stage: Stage, lane: int, at: Callable[[datetime], float], lang: str
) -> list[str]:
    """A dot per message on the stage's bar: filled from the customer (by mood), hollow ours.
    A message sent on another channel than its conversation's still sits on this bar."""
    _ = translator(lang)
    y = TOP + lane * LANE + 15
    out = []
    for touch in stage.touches:
        tone = f" tone-{touch.sentiment}" if touch.sentiment else ""
        kind = "in" if touch.direction == "inbound" else "out"
        tip = f"{_(DIRECTIONS.get(touch.direction, touch.direction))} · {_day(touch.at, lang)}"
        if touch.sentiment:
            tip += f" · {_(MOODS[touch.sentiment])}"
        out.append(
            f'<circle class="touch {kind}{tone}" cx="{_num(frame.x(at(touch.at)))}" '
            f'cy="{y}" r="2.5"><title>{escape(tip)}</title></circle>'
        )
    return out
