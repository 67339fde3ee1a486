"""Readable at a glance: the unread-mentions badge on the dark top bar has a contrast ratio of
at least 4.5:1 (WCAG AA), computed from the browser's computed styles."""

from __future__ import annotations

import re

from tests.conftest import inbound_payload, post_inbound
from tests.web.browser.conftest import agent_page

# The badge's text colour and the nearest opaque background behind it, as the browser paints.
COLOURS = """el => {
  const paint = node => {
    for (; node; node = node.parentElement) {
      const bg = getComputedStyle(node).backgroundColor;
      if (!/rgba\\(.*,\\s*0\\)$/.test(bg) && bg !== "transparent") return bg;
    }
    return "rgb(255, 255, 255)";
  };
  return [getComputedStyle(el).color, paint(el)];
}"""


def luminance(css: str) -> float:
    """WCAG relative luminance of an opaque `rgb(r, g, b)` / `rgba(r, g, b, 1)` colour."""
    r, g, b = (int(part) / 255 for part in re.findall(r"\d+", css)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(one: str, two: str) -> float:
    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


class TestMentionsBadge:
    def test_the_ratio_is_computed_as_wcag_defines_it(self):
        assert round(contrast("rgb(255, 255, 255)", "rgb(0, 0, 0)"), 1) == 21.0
        # White on light grey, the badge before: far below 4.5.
        assert contrast("rgb(255, 255, 255)", "rgb(234, 238, 242)") < 1.2

    async def test_unread_count_contrast_is_at_least_4_5(self, browser, live_server, cast, client):
        written = await client.post(
            f"/api/v1/conversations/{await _conversation(client, cast)}/messages",
            json={"text": "@alice please look", "private": True},
            headers=cast.sara.headers,
        )
        assert written.status_code == 201, written.text
        alice = await agent_page(browser, f"http://{live_server}", cast.alice)
        badge = alice.get_by_test_id("fd-mentions-count")
        await badge.wait_for(timeout=10_000)
        fg, bg = await badge.evaluate(COLOURS)
        assert contrast(fg, bg) >= 4.5, (fg, bg)


async def _conversation(client, cast) -> int:  # type: ignore[no-untyped-def]
    posted = await post_inbound(client, cast.website, inbound_payload("cb-1", "layla@example.com"))
    assert posted.status_code == 202, posted.text
    return int(posted.json()["conversation_id"])
