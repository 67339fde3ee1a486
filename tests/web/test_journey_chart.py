# ruff: noqa: RUF001  (Persian digits and words are the samples)
"""The journey picture: lanes per channel, a linked bar per conversation coloured by mood,
dots per message, markers, mirrored in right-to-left languages."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from frontdesk.analytics.journey import Journey, Marker, Stage, Touch
from frontdesk.web.charts import SVG_NS
from frontdesk.web.journey_chart import journey_chart

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
NOW = T0 + timedelta(days=10)


def sample() -> Journey:
    email = Stage(1, "email", "resolved", T0, T0 + timedelta(hours=5))
    email.touches += [
        Touch(T0, "email", "inbound", "negative"),
        Touch(T0 + timedelta(hours=5), "email", "outbound", None),
    ]
    email.markers.append(Marker(1, T0 + timedelta(hours=6), "survey", "CSAT 2/5", "negative"))
    chat = Stage(2, "webchat", "open", T0 + timedelta(days=8), T0 + timedelta(days=8, hours=1))
    chat.touches += [
        Touch(T0 + timedelta(days=8), "webchat", "inbound", "neutral"),
        Touch(T0 + timedelta(days=8, minutes=30), "webchat", "inbound", "positive"),
    ]
    return Journey(7, [email, chat])


def svg(markup: str) -> ET.Element:
    found = ET.fromstring(str(markup)).find(f"{{{SVG_NS}}}svg")
    assert found is not None
    return found


def of(root: ET.Element, tag: str, css: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{{SVG_NS}}}{tag}") if css in e.attrib.get("class", "")]


class TestJourneyChart:
    def test_stages_touches_and_markers(self) -> None:
        root = svg(journey_chart(sample(), lang="en", now=NOW, current=2))
        stages = of(root, "rect", "stage")
        assert [s.attrib["data-value"] for s in stages] == ["1", "2"]
        links = [a.attrib["href"] for a in root.iter(f"{{{SVG_NS}}}a")]
        assert links == ["/conversations/1", "/conversations/2"]
        # The customer's last mood colours the stage; the open one is marked current.
        assert "tone-negative" in stages[0].attrib["class"]
        assert "tone-positive" in stages[1].attrib["class"]
        assert "current" in stages[1].attrib["class"] and "current" not in stages[0].attrib["class"]
        assert len(of(root, "circle", "touch")) == 4
        assert len(of(root, "circle", "touch in")) == 3
        marker = of(root, "polygon", "marker")
        assert len(marker) == 1 and "survey" in marker[0].attrib["class"]
        title = marker[0].find(f"{{{SVG_NS}}}title")
        assert title is not None and title.text == "CSAT 2/5"
        lanes = [t.text for t in root.iter(f"{{{SVG_NS}}}text")]
        assert "email" in lanes and "webchat" in lanes
        # Different lanes, later in time further along.
        assert float(stages[0].attrib["y"]) < float(stages[1].attrib["y"])
        assert float(stages[0].attrib["x"]) < float(stages[1].attrib["x"])

    def test_time_runs_right_to_left_in_persian(self) -> None:
        root = svg(journey_chart(sample(), lang="fa", now=NOW))
        stages = of(root, "rect", "stage")
        assert float(stages[0].attrib["x"]) > float(stages[1].attrib["x"])
        dates = [t.text or "" for t in root.iter(f"{{{SVG_NS}}}text")][:2]
        assert all(any("۰" <= ch <= "۹" for ch in d) for d in dates)
        assert not any(ch.isascii() and ch.isdigit() for d in dates for ch in d)
        title = stages[0].find(f"{{{SVG_NS}}}title")
        assert title is not None and "حال منفی" in (title.text or "")

    def test_no_conversations(self) -> None:
        root = svg(journey_chart(Journey(7, []), lang="ar", now=NOW))
        assert of(root, "rect", "stage") == []
        assert len(list(root.iter(f"{{{SVG_NS}}}text"))) == 1
