"""Agents' files in a real browser: attached to a reply and a note on the desktop, previewed
in the agent's timeline and in the visitor's widget; notes' files never reach the widget."""

from __future__ import annotations

import struct
import zlib

from tests.web.browser.conftest import agent_page, axe_violations, customer_page, widget_say


def tiny_png() -> bytes:
    """A real 2 by 2 PNG, so that a preview that loads has a natural width."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class TestAgentFiles:
    async def test_reply_with_image_previews_for_agent_and_visitor(
        self, browser, live_server, cast, chat
    ):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "Where is your shop?")
        agent = await agent_page(browser, base, cast.alice)
        row = agent.get_by_test_id("fd-inbox-list").get_by_text("Where is your shop?")
        await row.wait_for(timeout=10_000)
        await row.click()
        await agent.wait_for_url("**/conversations/*")
        await agent.get_by_test_id("fd-reply-input").fill("Here is a map")
        await agent.get_by_test_id("fd-reply-files").set_input_files(
            {"name": "map\u202egnp.png", "mimeType": "image/png", "buffer": tiny_png()}
        )
        await agent.get_by_test_id("fd-reply-send").click()
        # The agent's timeline shows the image inline, named without the bidi override.
        preview = agent.get_by_test_id("fd-timeline").locator("[data-testid=fd-attachment] img")
        await preview.wait_for(timeout=10_000)
        assert await preview.get_attribute("alt") == "mapgnp.png"
        await agent.wait_for_function(
            "() => document.querySelector('[data-testid=fd-attachment] img').naturalWidth === 2"
        )
        # The visitor sees the reply with a preview served with their token only.
        shown = customer.locator("[data-testid=fd-widget-file] img")
        await shown.wait_for(timeout=10_000)
        await customer.wait_for_function(
            "() => document.querySelector('[data-testid=fd-widget-file] img').naturalWidth === 2"
        )
        src = await shown.get_attribute("src")
        assert src is not None and "token=" in src
        assert (await customer.request.get(src.split("?")[0] + "?token=forged")).status == 401
        # An internal note's file stays on the desktop.
        await agent.get_by_test_id("fd-note-input").fill("For the team")
        await agent.get_by_test_id("fd-note-files").set_input_files(
            {"name": "internal.txt", "mimeType": "text/plain", "buffer": b"secret"}
        )
        await agent.get_by_test_id("fd-note-send").click()
        note = agent.get_by_test_id("fd-note").get_by_text("internal.txt")
        await note.wait_for(timeout=10_000)
        await customer.reload()
        await customer.get_by_text("Here is a map").wait_for(timeout=10_000)
        assert await customer.get_by_text("internal.txt").count() == 0
        assert await axe_violations(agent) == []
        assert await axe_violations(customer) == []

    async def test_refused_type_shows_an_error_on_the_form(self, browser, live_server, cast, chat):
        base = f"http://{live_server}"
        customer = await customer_page(browser, base)
        await widget_say(customer, "Can you send the form?")
        agent = await agent_page(browser, base, cast.alice)
        row = agent.get_by_test_id("fd-inbox-list").get_by_text("Can you send the form?")
        await row.wait_for(timeout=10_000)
        await row.click()
        await agent.wait_for_url("**/conversations/*")
        await agent.get_by_test_id("fd-reply-files").set_input_files(
            {"name": "form.html", "mimeType": "text/html", "buffer": b"<script>alert(1)</script>"}
        )
        await agent.get_by_test_id("fd-reply-send").click()
        error = agent.locator("#fd-reply-form [role=alert]")
        await error.wait_for(timeout=10_000)
        said = await error.text_content() or ""
        assert "This type of file is not accepted here." in said and "upload_type" in said
