# ruff: noqa: RUF001, RUF002  (en dash and multiplication sign in labels and docstrings)
"""Server-rendered SVG charts: time series (line or area), bar breakdowns, histograms and the
hour-of-week heat map, from plain Python data (see docs/decisions/0008-charts.md).

Every chart is a `<figure class="fd-chart">` holding one `<svg role="img">` (a `<title>` on the
chart and on every mark, so hovering shows the figure) and a visually hidden data table with
the same numbers and links for screen readers. Every mark may link to the conversations behind
it. All text is escaped here; hrefs must be same-site paths or http(s) URLs (anything else,
such as `javascript:`, is dropped). No inline style (the desktop's CSP forbids it): colours come
from classes in app.css, intensities from presentation attributes.

Right to left: the x axis is mirrored (time runs from right to left, the value axis stands on
the right, horizontal bars grow leftwards, hour 0 of the heat map is on the right). Numbers the
kit writes (ticks, values, hours) use the language's digits; labels are passed in already
translated."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from babel.dates import get_day_names
from markupsafe import Markup, escape

from frontdesk.kit.i18n import direction, format_number, language, localise_digits, translator

# Strings the kit writes itself (the i18n test checks they are translated).
CHART_STRINGS = ("No data for this period", "Period", "Value", "Category", "Hour")
SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 640
SERIES_CLASSES = 7  # app.css colours .s0 … .s6 (a week); further series reuse them in turn
_AXIS_MARGIN = 52  # room for the value axis' tick labels
_FAR_MARGIN = 14
_TOP = 22
_BOTTOM = 34


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    href: str | None = None


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    hrefs: Sequence[str | None] = ()

    def href(self, index: int) -> str | None:
        return self.hrefs[index] if index < len(self.hrefs) else None


Formatter = Callable[[float], str]


def safe_href(href: str | None) -> str | None:
    """A same-site path or an http(s) URL; anything else (javascript:, data:, //host) is None."""
    if not href:
        return None
    if href.startswith("/") and not href.startswith(("//", "/\\")):
        return href
    if href.lower().startswith(("https://", "http://")):
        return href
    return None


def nice_ticks(top: float, *, count: int = 4, whole: bool = False) -> list[float]:
    """0 and up to `count` round steps (1, 2, 2.5 or 5 × 10^k) reaching at least `top`;
    `whole` keeps steps to whole numbers (for counts)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in multiples if m * power >= raw)
    if whole:
        step = max(1, step)
    steps = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _Frame:
    """Plot geometry in logical coordinates (measured from the value axis' side), drawn
    mirrored in right-to-left languages."""

    def __init__(
        self, *, height: int, lang: str, start: int = _AXIS_MARGIN, width: int = WIDTH
    ) -> None:
        self.lang = language(lang)
        self.rtl = direction(self.lang) == "rtl"
        self.height = height
        self.width = width
        self.start = start
        self.length = width - start - _FAR_MARGIN
        self.top = _TOP
        self.bottom = height - _BOTTOM

    def x(self, logical: float) -> float:
        return self.width - self.start - logical if self.rtl else self.start + logical

    def rect_x(self, logical: float, width: float) -> float:
        return self.x(logical + width) if self.rtl else self.x(logical)

    @property
    def axis_anchor(self) -> str:
        """Text anchor of labels standing before the axis (the physical side outside the plot)."""
        return "start" if self.rtl else "end"

    def axis_label_x(self, gap: float = 6) -> float:
        return self.x(-gap)

    def number(self, value: float) -> str:
        return format_number(round(value, 2), self.lang)


def _svg(frame: _Frame, title: str, body: list[str], testid: str | None) -> str:
    test = f' data-testid="{escape(testid)}"' if testid else ""
    marks = "".join(body)
    # An image's children are presentational: with links inside, the chart is a named group
    # instead (a link inside role="img" is unreachable to screen readers; axe:
    # nested-interactive).
    role = "group" if "<a " in marks else "img"
    return (
        f'<svg xmlns="{SVG_NS}" class="fd-chart-svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'role="{role}" aria-label="{escape(title)}" direction="ltr"{test}>'
        f"<title>{escape(title)}</title>{marks}</svg>"
    )


def _mark(shape: str, *, tip: str, href: str | None, value: float) -> str:
    """One data mark with its tooltip, wrapped in a link when it has one."""
    inner = shape.replace("/>", f' data-value="{_num(value)}"><title>{escape(tip)}</title>', 1)
    closing = "</" + shape[1:].split(" ", 1)[0] + ">"
    mark = inner + closing
    link = safe_href(href)
    if link is None:
        return mark
    return f'<a href="{escape(link)}" aria-label="{escape(tip)}">{mark}</a>'


def _figure(title: str, svg: str, table: str, testid: str | None) -> Markup:
    test = f' data-testid="{escape(testid)}-figure"' if testid else ""
    return Markup(
        f'<figure class="fd-chart"{test}><figcaption>{escape(title)}</figcaption>'
        f"{svg}{table}</figure>"
    )


def _table(
    title: str, headers: Sequence[str], rows: Sequence[tuple[Sequence[str], str | None]]
) -> str:
    """The chart's numbers for screen readers: one row per mark, its first cell the link."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for cells, href in rows:
        first = escape(cells[0])
        link = safe_href(href)
        if link:
            first = Markup(f'<a href="{escape(link)}">{first}</a>')
        rest = "".join(f"<td>{escape(c)}</td>" for c in cells[1:])
        body.append(f'<tr><th scope="row">{first}</th>{rest}</tr>')
    return (
        # The wrapper hides it: a table ignores the 1-pixel box .sr gives it and grows.
        f'<div class="sr"><table><caption>{escape(title)}</caption><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _value_axis(frame: _Frame, ticks: list[float], fmt: Formatter) -> list[str]:
    out = []
    for tick in ticks:
        y = frame.bottom - (frame.bottom - frame.top) * tick / ticks[-1]
        out.append(
            f'<line class="grid" x1="{_num(frame.x(0))}" x2="{_num(frame.x(frame.length))}" '
            f'y1="{_num(y)}" y2="{_num(y)}"/>'
            f'<text class="tick" x="{_num(frame.axis_label_x())}" y="{_num(y + 4)}" '
            f'text-anchor="{frame.axis_anchor}">{escape(fmt(tick))}</text>'
        )
    return out


def _category_labels(frame: _Frame, labels: Sequence[str], centres: list[float]) -> list[str]:
    """Labels under the x axis, thinned to about eight so they never overlap."""
    every = max(1, math.ceil(len(labels) / 8))
    return [
        f'<text class="tick" x="{_num(frame.x(centre))}" y="{frame.bottom + 16}" '
        f'text-anchor="middle">{escape(label)}</text>'
        for i, (label, centre) in enumerate(zip(labels, centres, strict=True))
        if i % every == 0
    ]


def _empty(frame: _Frame, title: str, testid: str | None) -> Markup:
    text = translator(frame.lang)("No data for this period")
    body = [
        f'<text class="empty" x="{frame.width / 2}" y="{frame.height / 2}" text-anchor="middle">'
        f"{escape(text)}</text>"
    ]
    return _figure(title, _svg(frame, title, body, testid), "", testid)


def _formatter(frame: _Frame, fmt: Formatter | None) -> Formatter:
    return fmt if fmt is not None else frame.number


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    lang: str = "en",
    area: bool = False,
    fmt: Formatter | None = None,
    height: int = 240,
    testid: str | None = None,
) -> Markup:
    """Time series: one line (or stacked-free area) per series over evenly spaced labels."""
    frame = _Frame(height=height, lang=lang)
    fmt = _formatter(frame, fmt)
    if not labels or not series:
        return _empty(frame, title, testid)
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(
                f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels"
            )
    ticks = nice_ticks(
        max(max(s.values, default=0) for s in series),
        whole=all(float(v).is_integer() for s in series for v in s.values),
    )
    span = frame.bottom - frame.top
    step = frame.length / (len(labels) - 1) if len(labels) > 1 else 0.0
    centres = [i * step if len(labels) > 1 else frame.length / 2 for i in range(len(labels))]
    body = _value_axis(frame, ticks, fmt)
    rows: list[tuple[Sequence[str], str | None]] = []
    for n, s in enumerate(series):
        css = f"s{n % SERIES_CLASSES}"
        points = [
            (frame.x(c), frame.bottom - span * v / ticks[-1])
            for c, v in zip(centres, s.values, strict=True)
        ]
        coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        if area:
            base = f"{_num(points[-1][0])},{frame.bottom} {_num(points[0][0])},{frame.bottom}"
            body.append(f'<polygon class="area {css}" points="{coords} {base}"/>')
        body.append(f'<polyline class="line {css}" points="{coords}"/>')
        for i, ((x, y), label, value) in enumerate(zip(points, labels, s.values, strict=True)):
            tip = (
                f"{s.name} · {label}: {fmt(value)}" if len(series) > 1 else f"{label}: {fmt(value)}"
            )
            body.append(
                _mark(
                    f'<circle class="dot {css}" cx="{_num(x)}" cy="{_num(y)}" r="3.5"/>',
                    tip=tip,
                    href=s.href(i),
                    value=value,
                )
            )
            rows.append(
                ((f"{s.name} · {label}" if len(series) > 1 else label, fmt(value)), s.href(i))
            )
    body += _category_labels(frame, labels, centres)
    if len(series) > 1:
        body += _legend(frame, [s.name for s in series])
    headers = [translator(frame.lang)("Period"), translator(frame.lang)("Value")]
    return _figure(title, _svg(frame, title, body, testid), _table(title, headers, rows), testid)


def _legend(frame: _Frame, names: Sequence[str]) -> list[str]:
    out = []
    spacing = min(120.0, frame.length / len(names))
    for n, name in enumerate(names):
        logical = n * spacing
        x = frame.rect_x(logical, 10)
        text_x = frame.x(logical + 14)
        anchor = "end" if frame.rtl else "start"
        out.append(
            f'<rect class="key s{n % SERIES_CLASSES}" x="{_num(x)}" y="4" width="10" height="10"/>'
            f'<text class="legend" x="{_num(text_x)}" y="13" text-anchor="{anchor}">'
            f"{escape(name)}</text>"
        )
    return out


def bar_chart(
    *,
    title: str,
    bars: Sequence[Bar],
    lang: str = "en",
    horizontal: bool = False,
    fmt: Formatter | None = None,
    height: int = 240,
    gap: float = 0.25,
    testid: str | None = None,
) -> Markup:
    """A breakdown: one bar per category (vertical columns, or horizontal rows)."""
    if horizontal:
        return _horizontal(title=title, bars=bars, lang=lang, fmt=fmt, testid=testid)
    frame = _Frame(height=height, lang=lang)
    fmt = _formatter(frame, fmt)
    if not bars:
        return _empty(frame, title, testid)
    ticks = nice_ticks(
        max(b.value for b in bars), whole=all(float(b.value).is_integer() for b in bars)
    )
    band = frame.length / len(bars)
    width = band * (1 - gap)
    body = _value_axis(frame, ticks, fmt)
    centres = []
    for i, bar in enumerate(bars):
        h = (frame.bottom - frame.top) * max(bar.value, 0) / ticks[-1]
        logical = i * band + (band - width) / 2
        centres.append(logical + width / 2)
        body.append(
            _mark(
                f'<rect class="bar s0" x="{_num(frame.rect_x(logical, width))}" '
                f'y="{_num(frame.bottom - h)}" width="{_num(width)}" height="{_num(h)}"/>',
                tip=f"{bar.label}: {fmt(bar.value)}",
                href=bar.href,
                value=bar.value,
            )
        )
    body += _category_labels(frame, [b.label for b in bars], centres)
    rows = [((b.label, fmt(b.value)), b.href) for b in bars]
    headers = [translator(frame.lang)("Category"), translator(frame.lang)("Value")]
    return _figure(title, _svg(frame, title, body, testid), _table(title, headers, rows), testid)


def _horizontal(
    *, title: str, bars: Sequence[Bar], lang: str, fmt: Formatter | None, testid: str | None
) -> Markup:
    row = 26
    frame = _Frame(height=_TOP + row * max(len(bars), 1) + 8, lang=lang, start=150)
    fmt = _formatter(frame, fmt)
    if not bars:
        return _empty(frame, title, testid)
    top = max(max(b.value for b in bars), 0) or 1.0
    room = frame.length - 60  # the value is written after the longest bar
    body = []
    for i, bar in enumerate(bars):
        y = _TOP + i * row
        w = room * max(bar.value, 0) / top
        body.append(
            f'<text class="tick" x="{_num(frame.axis_label_x(8))}" y="{y + 15}" '
            f'text-anchor="{frame.axis_anchor}">{escape(bar.label)}</text>'
        )
        body.append(
            _mark(
                f'<rect class="bar s0" x="{_num(frame.rect_x(0, w))}" y="{y + 3}" '
                f'width="{_num(w)}" height="{row - 8}"/>',
                tip=f"{bar.label}: {fmt(bar.value)}",
                href=bar.href,
                value=bar.value,
            )
        )
        anchor = "end" if frame.rtl else "start"
        body.append(
            f'<text class="value" x="{_num(frame.x(w + 6))}" y="{y + 15}" '
            f'text-anchor="{anchor}">{escape(fmt(bar.value))}</text>'
        )
    rows = [((b.label, fmt(b.value)), b.href) for b in bars]
    headers = [translator(frame.lang)("Category"), translator(frame.lang)("Value")]
    return _figure(title, _svg(frame, title, body, testid), _table(title, headers, rows), testid)


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin [edges[i], edges[i+1]); below the first edge counts in the first bin,
    at or past the last in the last (the last bin is open-ended)."""
    if len(edges) < 2:
        raise ValueError("a histogram needs at least two edges")
    counts = [0] * (len(edges) - 1)
    for value in values:
        index = 0
        while index < len(counts) - 1 and value >= edges[index + 1]:
            index += 1
        counts[index] += 1
    return counts


def histogram(
    *,
    title: str,
    values: Sequence[float],
    edges: Sequence[float],
    lang: str = "en",
    edge_fmt: Formatter | None = None,
    href: Callable[[float, float | None], str | None] | None = None,
    height: int = 240,
    testid: str | None = None,
) -> Markup:
    """A distribution: how many values fall in each bin; `href(low, high)` links a bin
    (high is None for the open-ended last bin)."""
    frame = _Frame(height=height, lang=lang)
    show = _formatter(frame, edge_fmt)
    counts = bin_counts(values, edges)
    bars = []
    for i, count in enumerate(counts):
        low = edges[i]
        high = edges[i + 1] if i + 1 < len(counts) else None
        label = f"{show(low)}–{show(edges[i + 1])}" if high is not None else f"≥ {show(low)}"
        bars.append(Bar(label, count, href(low, high) if href else None))
    return bar_chart(title=title, bars=bars, lang=lang, height=height, gap=0.04, testid=testid)


def day_names(lang: str) -> list[str]:
    """Abbreviated weekday names, Monday first, in the language."""
    names = get_day_names("abbreviated", locale=language(lang))
    return [str(names[d]) for d in range(7)]


def heat_map(
    *,
    title: str,
    cells: Sequence[Sequence[float]],
    lang: str = "en",
    fmt: Formatter | None = None,
    href: Callable[[int, int], str | None] | None = None,
    testid: str | None = None,
) -> Markup:
    """Hour of week: 7 rows (Monday first) × 24 hours; `href(day, hour)` links a cell."""
    if len(cells) != 7 or any(len(row) != 24 for row in cells):
        raise ValueError("a heat map takes 7 rows of 24 values")
    cell_h = 22
    frame = _Frame(height=_TOP + 7 * cell_h + 6, lang=lang, start=56)
    fmt = _formatter(frame, fmt)
    days = day_names(frame.lang)
    top = max(max(row) for row in cells)
    cell_w = frame.length / 24
    body = []
    for hour in range(0, 24, 3):
        body.append(
            f'<text class="tick" x="{_num(frame.x(hour * cell_w + cell_w / 2))}" y="{_TOP - 6}" '
            f'text-anchor="middle">{escape(localise_digits(str(hour), frame.lang))}</text>'
        )
    rows: list[tuple[Sequence[str], str | None]] = []
    for day, row in enumerate(cells):
        y = _TOP + day * cell_h
        body.append(
            f'<text class="tick" x="{_num(frame.axis_label_x())}" y="{y + 15}" '
            f'text-anchor="{frame.axis_anchor}">{escape(days[day])}</text>'
        )
        for hour, value in enumerate(row):
            strength = 0.0 if top <= 0 else value / top
            opacity = 1.0 if value <= 0 else 0.12 + 0.88 * strength
            span = localise_digits(f"{hour:02d}:00–{(hour + 1) % 24:02d}:00", frame.lang)
            link = href(day, hour) if href else None
            body.append(
                _mark(
                    f'<rect class="cell{" zero" if value <= 0 else ""}" '
                    f'x="{_num(frame.rect_x(hour * cell_w, cell_w))}" y="{y}" '
                    f'width="{_num(cell_w - 1)}" height="{cell_h - 1}" '
                    f'fill-opacity="{opacity:.2f}"/>',
                    tip=f"{days[day]} {span}: {fmt(value)}",
                    href=link,
                    value=value,
                )
            )
            if value > 0:
                rows.append(((f"{days[day]} {span}", fmt(value)), link))
    headers = [translator(frame.lang)("Hour"), translator(frame.lang)("Value")]
    return _figure(title, _svg(frame, title, body, testid), _table(title, headers, rows), testid)
