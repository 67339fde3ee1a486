"""The three-pane workspace in a real browser: a conversation opens beside the list without
losing the list's scroll, filters or URL; a phone shows the list first; bulk changes, saved
views, macros, the snooze picker, the shortcut sheet, the tab title's unread count and
browser notifications work as an agent uses them. Screenshots in en/ar/fa, desktop and phone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page

from tests.conftest import Person, inbound_payload, post_inbound
from tests.web.browser.conftest import agent_page, axe_violations, live

PHONE = {"width": 390, "height": 844}


async def many(client, cast, count: int, prefix: str = "ws") -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    for n in range(count):
        payload = inbound_payload(
            f"{prefix}-{n}", f"{prefix}{n}@example.com", f"Question number {n}",
            sender={"name": f"Customer {prefix} {n}"},
        )  # fmt: skip
        ids.append(
            int((await post_inbound(client, cast.website, payload)).json()["conversation_id"])
        )
    return ids


async def phone_page(browser: Browser, base: str, person: Person) -> Page:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.get_by_test_id("fd-login-email").fill(person.email)
    await page.get_by_test_id("fd-login-password").fill(person.password)
    await page.get_by_test_id("fd-login-submit").click()
    await page.wait_for_url(f"{base}/")
    await live(page)
    return page


class TestThreePanes:
    async def test_opening_keeps_the_list_its_scroll_and_its_filters(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        await many(client, cast, 30)
        alice = await agent_page(browser, base, cast.alice)
        await alice.goto(f"{base}/?view=all&status=open&channel=api")
        await live(alice)
        rows = alice.get_by_test_id("fd-conversation-row")
        await rows.nth(25).wait_for()
        # Mark the list element and scroll it: both must survive opening a conversation.
        await alice.evaluate(
            "() => { const l = document.getElementById('fd-list'); window.__list = l;"
            " l.scrollTop = 900; }"
        )
        scrolled = await alice.evaluate("() => document.getElementById('fd-list').scrollTop")
        assert scrolled > 0
        row = rows.nth(20)
        wanted = int(await row.get_attribute("data-conversation-id") or 0)
        # Clicked as the agent does on a row in view (Playwright's click would scroll first).
        await row.locator("a").evaluate("a => a.click()")
        pane = alice.locator(f"#fd-pane[data-conversation-id='{wanted}']")
        await pane.wait_for()
        assert f"/conversations/{wanted}?" in alice.url
        assert "view=all" in alice.url and "channel=api" in alice.url
        same = await alice.evaluate(
            "() => window.__list === document.getElementById('fd-list')"
            " && document.getElementById('fd-list').scrollTop"
        )
        assert same == scrolled  # the very same list, at the same place
        assert await alice.locator("li.current").get_attribute("data-conversation-id") == str(
            wanted
        )
        # The three panes sit side by side: list | thread | context.
        boxes = [
            await alice.locator(sel).bounding_box()
            for sel in ("#fd-list", "#fd-pane .thread", "#fd-pane .side")
        ]
        assert all(boxes) and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # type: ignore[index]
        # The compact header: channel by name, status and assignee as chips, a toolbar.
        chips = alice.get_by_test_id("fd-conv-chips")
        assert "API" in (await chips.inner_text()) and "Unassigned" in await chips.inner_text()
        await alice.get_by_test_id("fd-assign-me").click()
        await alice.get_by_test_id("fd-conv-assignee").get_by_text("Alice").wait_for()
        # The URL loads the same three panes, with the list's filter kept.
        await alice.goto(alice.url)
        await alice.locator(f"#fd-pane[data-conversation-id='{wanted}']").wait_for()
        assert await alice.locator("#fd-channel").input_value() == "api"
        assert await alice.locator("li.current").count() == 1
        assert await axe_violations(alice) == []
        # Back and forward through the browser's history keep working.
        await alice.go_back()
        await alice.wait_for_url(f"{base}/?view=all&status=open&channel=api")

    async def test_a_phone_shows_the_list_first_then_the_conversation_with_a_way_back(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        await many(client, cast, 3)
        phone = await phone_page(browser, base, cast.alice)
        assert await phone.locator("#fd-list").is_visible()
        assert not await phone.locator("#fd-pane").is_visible()
        await phone.get_by_test_id("fd-conversation-row").first.locator("a").click()
        await phone.get_by_test_id("fd-reply-input").wait_for()
        assert not await phone.locator("#fd-list").is_visible()
        thread = await phone.locator("#fd-pane .thread").bounding_box()
        assert thread and thread["width"] > PHONE["width"] * 0.85  # full width
        await phone.get_by_test_id("fd-back").click()
        await phone.get_by_test_id("fd-conversation-row").first.wait_for()
        assert await phone.locator("#fd-list").is_visible()
        assert await axe_violations(phone) == []


class TestProductivity:
    async def test_bulk_resolve_and_tag_two_rows(self, browser, live_server, cast, client):
        base = f"http://{live_server}"
        ids = await many(client, cast, 3, "bulk")
        alice = await agent_page(browser, base, cast.alice)
        for found in ids[:2]:
            row = alice.locator(
                f"[data-testid=fd-conversation-row][data-conversation-id='{found}']"
            )
            await row.get_by_test_id("fd-row-select").check()
        await alice.get_by_test_id("fd-bulk-count").get_by_text("2").wait_for()
        await alice.get_by_test_id("fd-bulk-status").select_option("resolved")
        await alice.get_by_test_id("fd-bulk-tag").fill("wholesale")
        await alice.get_by_test_id("fd-bulk-apply").click()
        await alice.wait_for_load_state()
        await alice.get_by_test_id("fd-count-all").get_by_text("1").wait_for()
        for found in ids[:2]:
            got = (
                await client.get(f"/api/v1/conversations/{found}", headers=cast.alice.headers)
            ).json()
            assert got["status"] == "resolved" and got["tags"] == ["wholesale"]
        assert (
            await client.get(f"/api/v1/conversations/{ids[2]}", headers=cast.alice.headers)
        ).json()["status"] == "open"

    async def test_save_a_view_then_open_it(self, browser, live_server, cast, client):
        base = f"http://{live_server}"
        await many(client, cast, 2, "sv")
        alice = await agent_page(browser, base, cast.alice)
        await alice.goto(f"{base}/?view=unassigned&status=open&priority=")
        await alice.get_by_test_id("fd-filters").locator("summary").click()
        await alice.get_by_test_id("fd-view-name").fill("Waiting for someone")
        await alice.get_by_test_id("fd-view-save").click()
        saved = alice.get_by_test_id("fd-saved-view").filter(has_text="Waiting for someone")
        await saved.wait_for()
        await alice.goto(base + "/")
        await alice.get_by_test_id("fd-saved-view").first.click()
        await alice.wait_for_url("**/?view=unassigned*")
        assert await alice.get_by_test_id("fd-view-unassigned").get_attribute("aria-current")

    async def test_a_macro_replies_and_sets_status_in_one_click(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        [found] = await many(client, cast, 1, "mc")
        alice = await agent_page(browser, base, cast.alice)
        await alice.goto(f"{base}/settings/macros")
        await alice.get_by_test_id("fd-macro-name").fill("Thanks and wait")
        await alice.get_by_test_id("fd-macro-text").fill("Thank you {{customer.first_name}}!")
        await alice.get_by_test_id("fd-macro-status").select_option("pending")
        await alice.get_by_test_id("fd-macro-tags").fill("followup")
        await alice.get_by_test_id("fd-macro-assign").select_option("me")
        await alice.get_by_test_id("fd-macro-save").click()
        await alice.get_by_test_id("fd-macro-row").first.wait_for()
        assert await axe_violations(alice) == []
        await alice.goto(f"{base}/conversations/{found}")
        await live(alice)
        await alice.get_by_test_id("fd-macro").select_option(label="Thanks and wait")
        await alice.get_by_test_id("fd-macro-apply").click()
        await alice.get_by_test_id("fd-timeline").get_by_text("Thank you Customer!").wait_for()
        status = alice.get_by_test_id("fd-conv-status")
        await status.get_by_text("pending").wait_for()
        got = (
            await client.get(f"/api/v1/conversations/{found}", headers=cast.alice.headers)
        ).json()
        assert got["assignee_id"] == cast.alice.id and got["tags"] == ["followup"]

    async def test_snooze_until_a_picked_time_in_the_agents_zone(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        [found] = await many(client, cast, 1, "sn")
        await client.patch(
            "/api/v1/me/preferences", json={"time_zone": "Asia/Tehran"}, headers=cast.alice.headers
        )
        alice = await agent_page(browser, base, cast.alice)
        await alice.goto(f"{base}/conversations/{found}")
        await live(alice)
        await alice.get_by_test_id("fd-actions-menu").locator("summary").click()
        await alice.get_by_test_id("fd-snooze").select_option("at")
        await alice.get_by_test_id("fd-snooze-at").fill("2031-03-04T09:30")
        await alice.get_by_test_id("fd-snooze-send").click()
        await alice.get_by_test_id("fd-conv-snoozed").wait_for()
        got = (
            await client.get(f"/api/v1/conversations/{found}", headers=cast.alice.headers)
        ).json()
        assert got["status"] == "snoozed"
        expected = datetime(2031, 3, 4, 9, 30, tzinfo=ZoneInfo("Asia/Tehran"))
        assert datetime.fromisoformat(got["snoozed_until"]) == expected

    async def test_the_shortcut_sheet_and_the_unread_count_in_the_title(
        self, browser, live_server, cast, client
    ):
        base = f"http://{live_server}"
        [found] = await many(client, cast, 1, "kb")
        await client.patch(
            f"/api/v1/conversations/{found}",
            json={"assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        alice = await agent_page(browser, base, cast.alice)
        await alice.wait_for_function("() => document.title.startsWith('(1) ')")
        await alice.keyboard.press("?")
        sheet = alice.get_by_test_id("fd-keys")
        await sheet.wait_for()
        assert await sheet.evaluate("d => d.open")
        assert await axe_violations(alice) == []
        await alice.keyboard.press("Escape")
        assert not await sheet.evaluate("d => d.open")
        # A second unanswered conversation assigned to her raises the count, live.
        [other] = await many(client, cast, 1, "kb2")
        await client.patch(
            f"/api/v1/conversations/{other}",
            json={"assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        await alice.wait_for_function("() => document.title.startsWith('(2) ')", timeout=10_000)

    async def test_notifications_for_what_the_agent_chose(self, browser, live_server, cast, client):
        base = f"http://{live_server}"
        alice = await agent_page(browser, base, cast.alice)
        await alice.goto(f"{base}/me/preferences")
        await alice.get_by_test_id("fd-prefs-new").check()
        await alice.get_by_test_id("fd-prefs-sound").check()
        await alice.get_by_test_id("fd-prefs-save").click()
        await alice.get_by_test_id("fd-prefs-saved").wait_for()
        assert await axe_violations(alice) == []
        await alice.context.grant_permissions(["notifications"], origin=base)
        # Record what the page shows (the browser's own notification centre is not ours).
        await alice.add_init_script(
            "window.__shown = []; window.Notification = class { constructor(t, o) {"
            " window.__shown.push([t, o.body]); } static get permission() { return 'granted'; } };"
            "window.AudioContext = class { constructor() { window.__beeps = (window.__beeps||0)+1;"
            " this.currentTime = 0; this.destination = {}; } createOscillator() { return"
            " {frequency: {}, connect() {}, start() {}, stop() {}}; } createGain() { return"
            " {gain: {}, connect() {}}; } };"
        )
        await alice.goto(base + "/")
        await live(alice)
        [found] = await many(client, cast, 1, "nt")
        await alice.wait_for_function("() => window.__shown.length > 0", timeout=10_000)
        shown = await alice.evaluate("() => window.__shown")
        assert shown[0] == ["New conversation", f"#{found}"]
        assert await alice.evaluate("() => window.__beeps") >= 1
        # Mentions were not chosen: a mention of her shows nothing more.
        await client.post(
            f"/api/v1/conversations/{found}/messages",
            json={"text": "@alice see this", "private": True},
            headers=cast.sara.headers,
        )
        await alice.wait_for_timeout(1500)
        assert len(await alice.evaluate("() => window.__shown")) == 1


class TestScreenshots:
    async def test_workspace_in_three_languages_at_two_sizes(
        self, browser, live_server, cast, client, artifacts
    ):
        base = f"http://{live_server}"
        ids = await many(client, cast, 6, "shot")
        await client.patch(
            f"/api/v1/conversations/{ids[0]}",
            json={"assignee_id": cast.alice.id, "tags": ["vip", "refund"], "priority": "high"},
            headers=cast.ada.headers,
        )
        for lang in ("en", "ar", "fa"):
            await client.patch(
                f"/api/v1/agents/{cast.alice.id}", json={"language": lang}, headers=cast.ada.headers
            )
            desk = await agent_page(browser, base, cast.alice)
            phone = await phone_page(browser, base, cast.alice)
            for size, page in (("desktop", desk), ("phone", phone)):
                await page.goto(f"{base}/conversations/{ids[0]}?view=all&status=open")
                await page.get_by_test_id("fd-reply-input").wait_for()
                assert await page.evaluate("document.documentElement.lang") == lang
                assert await axe_violations(page) == [], (lang, size)
                await page.screenshot(path=str(artifacts / f"workspace-{lang}-{size}.png"))
                await page.goto(f"{base}/?view=all&status=open")
                await page.get_by_test_id("fd-conversation-row").first.wait_for()
                assert await axe_violations(page) == [], (lang, size, "list")
                await page.screenshot(path=str(artifacts / f"workspace-list-{lang}-{size}.png"))
            await desk.context.close()
            await phone.context.close()
