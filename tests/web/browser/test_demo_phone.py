"""The demo's phone in a browser: a newcomer writes as a WhatsApp customer on /demo/phone,
an agent answers in the desktop, and the answer appears on the phone with its ticks."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
from playwright.async_api import Browser

from tests.conftest import Person
from tests.demo.conftest import Demo, demo, demo_port, settings  # noqa: F401  (fixtures)
from tests.web.browser.conftest import agent_page, axe_violations

ADMIN = Person(0, "admin@frontdesk.test", "frontdesk-admin", "")


async def test_whatsapp_customer_and_agent_talk(
    browser: Browser,
    demo: Demo,  # noqa: F811  (the fixture imported above)
    artifacts: Path,
) -> None:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    phone = await context.new_page()
    await phone.goto(f"{demo.base}/demo/phone?channel=whatsapp&persona=omar&lang=ar")
    assert await phone.locator("html").get_attribute("dir") == "rtl"
    await phone.get_by_test_id("fd-phone-input").fill("مرحبا، هل وصل طلبي؟")
    await phone.get_by_test_id("fd-phone-send").click()
    mine = phone.locator("[data-testid=fd-phone-message][data-mine=yes]")
    await mine.filter(has_text="هل وصل طلبي").wait_for(timeout=20_000)
    await phone.locator("[data-mine=yes][data-status=delivered]").wait_for(timeout=20_000)
    assert await phone.get_by_test_id("fd-phone-input").input_value() == ""  # form cleared

    async with httpx.AsyncClient(base_url=demo.base, headers=demo.headers) as api:
        listed = (await api.get("/api/v1/conversations?limit=100")).json()["items"]
    [conversation] = [c for c in listed if c["channel"] == "whatsapp"]

    agent = await agent_page(browser, demo.base, ADMIN)
    await agent.get_by_test_id("fd-nav-more").locator("summary").click()  # the top bar's menu
    assert await agent.get_by_test_id("fd-demo-phone-link").is_visible()
    await agent.goto(f"{demo.base}/conversations/{conversation['id']}")
    await agent.get_by_test_id("fd-timeline").get_by_text("هل وصل طلبي").wait_for(timeout=10_000)
    await agent.get_by_test_id("fd-reply-input").fill("نعم، سيصل غداً إن شاء الله")
    await agent.get_by_test_id("fd-reply-send").click()

    theirs = phone.locator("[data-testid=fd-phone-message][data-mine=no]")
    await theirs.filter(has_text="سيصل غداً").wait_for(timeout=30_000)
    # Delivered, then read once the phone has shown it (blue ticks).
    await phone.locator("[data-mine=no][data-status=read]").wait_for(timeout=30_000)
    bubble = phone.locator("[data-mine=no] p")
    assert await bubble.get_attribute("dir") == "auto"
    await phone.screenshot(path=str(artifacts / "demo-phone-ar.png"), full_page=True)
    assert await axe_violations(phone) == []
    # The desk sees the customer's app report it read.
    await agent.locator("[data-testid=fd-timeline]").get_by_text("سيصل غداً").wait_for()
    await agent.screenshot(path=str(artifacts / "demo-phone-desk.png"), full_page=True)


async def test_the_mailbox_reads_well_in_every_language(
    browser: Browser,
    demo: Demo,  # noqa: F811  (the fixture imported above)
    artifacts: Path,
) -> None:
    mail = EmailMessage()
    mail["From"] = "Support <support@frontdesk.test>"
    mail["To"] = "Omar Khalil <omar@example.org>"
    mail["Subject"] = "Re: استرداد المبلغ"
    mail.set_content("plain")
    mail.add_alternative("<p>مرحبا عمر، <b>تم الاسترداد</b>.</p>", subtype="html")
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=demo.sink.port)
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    for lang in ("en", "ar", "fa"):
        await page.goto(f"{demo.base}/demo/mail?lang={lang}")
        await page.get_by_test_id("fd-mail-item").first.locator("a").click()
        await page.get_by_test_id("fd-mail-body").get_by_text("تم الاسترداد").wait_for()
        assert await page.locator("html").get_attribute("dir") == ("ltr" if lang == "en" else "rtl")
        await page.screenshot(path=str(artifacts / f"demo-mail-{lang}.png"), full_page=True)
        assert await axe_violations(page) == []


async def test_messenger_customer_writes_and_sees_the_answer(
    browser: Browser,
    demo: Demo,  # noqa: F811  (the fixture imported above)
) -> None:
    """Messenger on the phone page: the message goes through the signed Graph webhook, the
    agent's answer comes back to the phone with Messenger's delivery tick."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    phone = await context.new_page()
    await phone.goto(f"{demo.base}/demo/phone?channel=messenger&persona=reza&lang=fa")
    picker = phone.get_by_test_id("fd-phone-channel")
    assert await picker.locator("option[value=sms_gateway]").text_content() == (
        "پیامک از طریق درگاه محلی"
    )
    assert await phone.get_by_test_id("fd-phone-image").count() == 0  # text only here
    await phone.get_by_test_id("fd-phone-input").fill("سلام از مسنجر")
    await phone.get_by_test_id("fd-phone-send").click()
    await phone.locator("[data-mine=yes][data-status=delivered]").wait_for(timeout=20_000)

    async with httpx.AsyncClient(base_url=demo.base, headers=demo.headers) as api:
        listed = (await api.get("/api/v1/conversations?limit=100")).json()["items"]
        [conversation] = [c for c in listed if c["channel"] == "messenger"]
        answer = await api.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "سلام رضا"}
        )
        assert answer.status_code == 201, answer.text
    theirs = phone.locator("[data-testid=fd-phone-message][data-mine=no]")
    await theirs.filter(has_text="سلام رضا").wait_for(timeout=30_000)
    await phone.locator("[data-mine=no][data-status=delivered]").wait_for(timeout=30_000)
    assert await axe_violations(phone) == []
