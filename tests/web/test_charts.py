# ruff: noqa: RUF001  (Arabic and Persian digits are the samples)
"""The SVG chart kit: marks, heights, links, escaping, digits and right-to-left mirroring,
read back by parsing the markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from frontdesk.web import charts
from frontdesk.web.charts import Bar, Series

NS = {"svg": charts.SVG_NS}


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def svg_of(figure: ET.Element) -> ET.Element:
    found = figure.find("svg:svg", NS)
    assert found is not None
    return found


def marks(figure: ET.Element, kind: str) -> list[ET.Element]:
    return list(svg_of(figure).iter(f"{{{charts.SVG_NS}}}{kind}"))


def links(figure: ET.Element) -> list[str]:
    return [a.attrib["href"] for a in svg_of(figure).iter(f"{{{charts.SVG_NS}}}a")]


def texts(figure: ET.Element) -> list[str]:
    return [t.text or "" for t in svg_of(figure).iter(f"{{{charts.SVG_NS}}}text")]


class TestBarChart:
    def test_one_bar_per_category_with_heights_in_proportion(self) -> None:
        figure = parse(
            charts.bar_chart(title="Volume", bars=[Bar("email", 10), Bar("sms", 5), Bar("chat", 0)])
        )
        bars = [r for r in marks(figure, "rect") if "bar" in r.attrib["class"]]
        assert [float(b.attrib["data-value"]) for b in bars] == [10, 5, 0]
        heights = [float(b.attrib["height"]) for b in bars]
        assert heights[0] == pytest.approx(2 * heights[1])
        assert heights[2] == 0
        # Bars stand on the same baseline.
        bottoms = {round(float(b.attrib["y"]) + float(b.attrib["height"]), 1) for b in bars}
        assert len(bottoms) == 1

    def test_every_bar_links_and_unsafe_links_are_dropped(self) -> None:
        figure = parse(
            charts.bar_chart(
                title="t",
                bars=[
                    Bar("a", 1, "/conversations?channel=email&status=open"),
                    Bar("b", 2, "javascript:alert(1)"),
                    Bar("c", 3, "//evil.example/x"),
                    Bar("d", 4, "https://example.com/x"),
                ],
            )
        )
        assert links(figure) == [
            "/conversations?channel=email&status=open",
            "https://example.com/x",
        ]

    def test_text_is_escaped(self) -> None:
        markup = str(
            charts.bar_chart(title='<script>"x"</script>', bars=[Bar("<b>&", 1, '/x?"y"')])
        )
        assert "<script>" not in markup and "<b>" not in markup
        figure = parse(markup)
        assert svg_of(figure).attrib["aria-label"] == '<script>"x"</script>'
        assert "<b>&" in texts(figure)
        assert links(figure) == ['/x?"y"']

    def test_accessible_names(self) -> None:
        figure = parse(charts.bar_chart(title="Volume by channel", bars=[Bar("email", 3, "/e")]))
        svg = svg_of(figure)
        # Links inside: a named group (an image's children are unreachable).
        assert svg.attrib["role"] == "group"
        plain = svg_of(parse(charts.bar_chart(title="t", bars=[Bar("email", 3)])))
        assert plain.attrib["role"] == "img"
        assert svg.attrib["aria-label"] == "Volume by channel"
        title = svg.find("svg:title", NS)
        assert title is not None and title.text == "Volume by channel"
        bar = next(r for r in marks(figure, "rect") if "bar" in r.attrib["class"])
        bar_title = bar.find("svg:title", NS)
        assert bar_title is not None and bar_title.text == "email: 3"
        # The hidden table carries the same numbers and links for screen readers.
        hidden = figure.find("div")
        assert hidden is not None and hidden.attrib["class"] == "sr"
        table = hidden.find("table")
        assert table is not None
        assert [a.attrib["href"] for a in table.iter("a")] == ["/e"]

    def test_arabic_digits_and_mirrored_axis(self) -> None:
        bars = [Bar("first", 1234), Bar("second", 10)]
        ltr = parse(charts.bar_chart(title="t", bars=bars, lang="en"))
        rtl = parse(charts.bar_chart(title="t", bars=bars, lang="ar"))
        assert "1,234" in " ".join(
            t.text or "" for t in svg_of(ltr).iter(f"{{{charts.SVG_NS}}}title")
        )
        rtl_titles = [t.text or "" for t in svg_of(rtl).iter(f"{{{charts.SVG_NS}}}title")]
        assert "first: ١,٢٣٤" in rtl_titles
        assert not any(ch.isascii() and ch.isdigit() for t in texts(rtl) for ch in t)

        def first_x(figure: ET.Element) -> float:
            return float(
                next(r for r in marks(figure, "rect") if "bar" in r.attrib["class"]).attrib["x"]
            )

        # The first bar stands on the left in English and on the right in Arabic.
        assert first_x(ltr) < charts.WIDTH / 2 < first_x(rtl)
        width = float(
            next(r for r in marks(ltr, "rect") if "bar" in r.attrib["class"]).attrib["width"]
        )
        assert first_x(rtl) == pytest.approx(charts.WIDTH - first_x(ltr) - width, abs=0.2)

    def test_persian_digits(self) -> None:
        figure = parse(charts.bar_chart(title="t", bars=[Bar("x", 25)], lang="fa"))
        assert "۲۵" in " ".join(
            t.text or "" for t in svg_of(figure).iter(f"{{{charts.SVG_NS}}}title")
        )

    def test_horizontal_bars_grow_from_the_start_side(self) -> None:
        bars = [Bar("email", 8, "/e"), Bar("sms", 4)]
        ltr = parse(charts.bar_chart(title="t", bars=bars, horizontal=True))
        rtl = parse(charts.bar_chart(title="t", bars=bars, horizontal=True, lang="fa"))
        for figure, rtl_side in ((ltr, False), (rtl, True)):
            rects = [r for r in marks(figure, "rect") if "bar" in r.attrib["class"]]
            widths = [float(r.attrib["width"]) for r in rects]
            assert widths[0] == pytest.approx(2 * widths[1])
            edges = [
                float(r.attrib["x"]) + (float(r.attrib["width"]) if rtl_side else 0) for r in rects
            ]
            assert edges[0] == pytest.approx(edges[1])  # a common start edge
        assert links(ltr) == ["/e"]

    def test_empty_chart_says_so(self) -> None:
        figure = parse(charts.bar_chart(title="t", bars=[], lang="ar"))
        assert marks(figure, "rect") == []
        assert texts(figure) == [charts.translator("ar")("No data for this period")]


class TestLineChart:
    def test_points_per_series_and_links(self) -> None:
        figure = parse(
            charts.line_chart(
                title="Volume",
                labels=["Mon", "Tue", "Wed"],
                series=[
                    Series("email", [4, 8, 2], ["/a", "/b", "/c"]),
                    Series("sms", [1, 0, 3]),
                ],
                area=True,
            )
        )
        dots = marks(figure, "circle")
        assert len(dots) == 6
        assert links(figure) == ["/a", "/b", "/c"]
        assert len(marks(figure, "polyline")) == 2 and len(marks(figure, "polygon")) == 2
        email = [d for d in dots if "s0" in d.attrib["class"]]
        ys = [float(d.attrib["cy"]) for d in email]
        assert ys[1] < ys[0] < ys[2]  # higher values stand higher
        xs = [float(d.attrib["cx"]) for d in email]
        assert xs == sorted(xs)

    def test_time_runs_right_to_left_in_rtl(self) -> None:
        figure = parse(
            charts.line_chart(
                title="t", labels=["1", "2", "3"], series=[Series("a", [1, 2, 3])], lang="ar"
            )
        )
        xs = [float(d.attrib["cx"]) for d in marks(figure, "circle")]
        assert xs == sorted(xs, reverse=True)
        assert "١" in texts(figure) or "٣" in texts(figure)

    def test_mismatched_series_is_refused(self) -> None:
        with pytest.raises(ValueError):
            charts.line_chart(title="t", labels=["a", "b"], series=[Series("x", [1])])


class TestHistogram:
    def test_bins_count_values_and_link_their_range(self) -> None:
        assert charts.bin_counts([0, 5, 10, 99, 100, 5000, -1], [0, 10, 100, 1000]) == [3, 2, 2]
        figure = parse(
            charts.histogram(
                title="First response",
                values=[5, 15, 25, 200, 5000],
                edges=[0, 10, 100, 1000],
                href=lambda low, high: (
                    f"/c?frt_min={low:g}" + (f"&frt_max={high:g}" if high else "")
                ),
            )
        )
        bars = [r for r in marks(figure, "rect") if "bar" in r.attrib["class"]]
        assert [float(b.attrib["data-value"]) for b in bars] == [1, 2, 2]
        assert links(figure) == [
            "/c?frt_min=0&frt_max=10",
            "/c?frt_min=10&frt_max=100",
            "/c?frt_min=100",
        ]
        assert "≥ 100" in texts(figure)


class TestHeatMap:
    def cells(self) -> list[list[float]]:
        grid = [[0.0] * 24 for _ in range(7)]
        grid[0][9] = 10  # Monday 09:00
        grid[6][23] = 5  # Sunday 23:00
        return grid

    def test_seven_by_twenty_four_cells_with_intensity_and_links(self) -> None:
        figure = parse(
            charts.heat_map(
                title="Volume by hour", cells=self.cells(), href=lambda d, h: f"/c?day={d}&hour={h}"
            )
        )
        cells = [r for r in marks(figure, "rect") if "cell" in r.attrib["class"]]
        assert len(cells) == 168
        assert len(links(figure)) == 168
        monday_nine = cells[9]
        assert monday_nine.attrib["data-value"] == "10"
        assert float(monday_nine.attrib["fill-opacity"]) == pytest.approx(1.0)
        sunday_late = cells[6 * 24 + 23]
        assert float(sunday_late.attrib["fill-opacity"]) == pytest.approx(0.56)
        assert "zero" in cells[0].attrib["class"]
        assert links(figure)[9] == "/c?day=0&hour=9"

    def test_persian_hours_and_mirrored_columns(self) -> None:
        fa = parse(charts.heat_map(title="t", cells=self.cells(), lang="fa"))
        en = parse(charts.heat_map(title="t", cells=self.cells(), lang="en"))
        assert "۱۲" in texts(fa) and "12" in texts(en)

        def x_of(figure: ET.Element, hour: int) -> float:
            return float(
                [r for r in marks(figure, "rect") if "cell" in r.attrib["class"]][hour].attrib["x"]
            )

        assert x_of(en, 0) < x_of(en, 23)
        assert x_of(fa, 0) > x_of(fa, 23)

    def test_wrong_shape_is_refused(self) -> None:
        with pytest.raises(ValueError):
            charts.heat_map(title="t", cells=[[1.0] * 24] * 6)


def test_nice_ticks() -> None:
    assert charts.nice_ticks(7, whole=True) == [0, 2, 4, 6, 8]
    assert charts.nice_ticks(1000) == [0, 250, 500, 750, 1000]
    assert charts.nice_ticks(0.3) == [0, 0.1, 0.2, 0.3]
    assert charts.nice_ticks(2, whole=True) == [0, 1, 2]
    assert charts.nice_ticks(0) == [0, 1]
