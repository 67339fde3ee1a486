"""The staffing page: supervisors and admins only, the form's parameters, charts drawn from
the measured history, CSV, bad input answered with the defaults and a message."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import httpx

from frontdesk.db import utcnow
from frontdesk.runtime import Runtime
from frontdesk.web.charts import SVG_NS
from tests.analytics.test_staffing_views import history, slot
from tests.conftest import Cast
from tests.web.test_views import csrf_of, log_in


def figure(html: str, testid: str) -> ET.Element:
    start = html.index(f'data-testid="{testid}-figure"')
    start = html.rindex("<figure", 0, start)
    end = html.index("</figure>", start) + len("</figure>")
    return ET.fromstring(html[start:end])


def cells(element: ET.Element) -> list[ET.Element]:
    return [r for r in element.iter(f"{{{SVG_NS}}}rect") if "cell" in r.attrib.get("class", "")]


class TestStaffingPage:
    async def test_supervisor_sees_the_plan_as_charts(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        at = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
        await history(runtime, cast, at=at, count=6, handle=180)
        await log_in(client, cast.sara)
        page = await client.get("/staffing", params={"weeks": 1, "shrinkage": 0})
        assert page.status_code == 200
        assert 'data-testid="fd-nav-staffing"' in page.text
        heat = cells(figure(page.text, "fd-staffing-heatmap"))
        assert len(heat) == 168
        assert heat[slot(at)].attrib["data-value"] == "2"
        assert sum(float(c.attrib["data-value"]) for c in heat) == 2
        daily = figure(page.text, "fd-staffing-daily")
        assert len(list(daily.iter(f"{{{SVG_NS}}}polyline"))) == 7
        assert 'data-testid="fd-staffing-invalid"' not in page.text
        exported = await client.get("/staffing.csv", params={"weeks": 1, "shrinkage": 0})
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert rows[slot(at)]["agents"] == "2"

    async def test_arabic_digits_and_direction(
        self, client: httpx.AsyncClient, runtime: Runtime, cast: Cast
    ) -> None:
        at = utcnow().replace(minute=10, second=0, microsecond=0) - timedelta(hours=3)
        await history(runtime, cast, at=at, count=6, handle=180)
        await log_in(client, cast.ada)
        home = await client.get("/")
        await client.post("/me/language", data={"language": "ar", "csrf": csrf_of(home.text)})
        page = await client.get("/staffing", params={"weeks": 1, "shrinkage": 0})
        assert 'dir="rtl"' in page.text and "التوظيف" in page.text
        heat = figure(page.text, "fd-staffing-heatmap")
        titles = [t.text or "" for t in heat.iter(f"{{{SVG_NS}}}title")]
        assert any(t.endswith(": ٢") for t in titles)
        hour0, hour23 = cells(heat)[0], cells(heat)[23]
        assert float(hour0.attrib["x"]) > float(hour23.attrib["x"])  # mirrored

    async def test_bad_input_shows_the_defaults(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await log_in(client, cast.sara)
        page = await client.get("/staffing", params={"target": "2", "weeks": "lots"})
        assert page.status_code == 200
        assert 'data-testid="fd-staffing-invalid"' in page.text
        assert 'name="weeks" type="number" min="1" max="26" step="1" value="4"' in page.text

    async def test_agents_do_not_see_it(self, client: httpx.AsyncClient, cast: Cast) -> None:
        await log_in(client, cast.alice)
        home = await client.get("/")
        assert 'data-testid="fd-nav-staffing"' not in home.text
        assert (await client.get("/staffing")).status_code == 404
        assert (await client.get("/staffing.csv")).status_code == 404
