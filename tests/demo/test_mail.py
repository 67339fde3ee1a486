"""/demo/mail: the demo's e-mail replies go to its built-in sink instead of failing with "no
smtp relay" (issue 14 problem 1), and the sink's mail is readable, HTML sanitised."""

from __future__ import annotations

import re
from email.message import EmailMessage

import aiosmtplib
import httpx

from frontdesk.conversations import service as conversations
from frontdesk.inboxes.port import Inbound
from frontdesk.kit import uow
from frontdesk.runtime import Runtime
from tests.conftest import run_jobs
from tests.demo.conftest import Demo, until


async def customer_mail(client: httpx.AsyncClient, runtime: Runtime, demo: Demo) -> int:
    """Mail from a customer in the demo's e-mail inbox, as its listener would store it."""
    listed = await client.get("/api/v1/inboxes", headers=demo.headers)
    [inbox] = [i for i in listed.json()["items"] if i["channel"] == "email"]
    assert inbox["settings"]["smtp"]["port"] == demo.sink.port
    async with runtime.db.session() as session:
        received = await conversations.receive(
            session,
            Inbound(
                inbox_id=inbox["id"],
                external_id="<q-1@example.com>",
                address="nadia@example.com",
                name="Nadia Karimi",
                subject="Return my boots",
                text="Hello, how do I return my boots?",
            ),
            blobs=runtime.blobs,
        )
        await uow.commit(session)
    return received.conversation.id


async def test_an_email_reply_lands_in_the_demo_mailbox(
    client: httpx.AsyncClient, runtime: Runtime, demo: Demo
) -> None:
    empty = await client.get("/demo/mail")
    assert empty.status_code == 200 and 'data-testid="fd-mail-empty"' in empty.text
    conversation_id = await customer_mail(client, runtime, demo)
    reply = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "Print the label we sent and drop the boots at any post office."},
        headers=demo.headers,
    )
    assert reply.status_code == 201, reply.text
    await run_jobs(runtime)
    messages = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=demo.headers
    )
    [sent] = [m for m in messages.json()["items"] if m["direction"] == "outbound"]
    assert sent["delivery_status"] == "sent", sent

    async def listed() -> str | None:
        page = await client.get("/demo/mail")
        return page.text if 'data-testid="fd-mail-item"' in page.text else None

    page = await until(listed)
    assert "Re: Return my boots" in page and "nadia@example.com" in page
    [name] = re.findall(r'href="/demo/mail/([0-9]+-[0-9a-f]+\.eml)', page)
    shown = await client.get(f"/demo/mail/{name}")
    assert shown.status_code == 200
    assert "drop the boots at any post office" in shown.text
    assert "support@frontdesk.test" in shown.text


async def test_the_mailbox_shows_html_without_its_scripts(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    mail = EmailMessage()
    mail["From"] = "support@frontdesk.test"
    mail["To"] = "mina@example.com"
    mail["Subject"] = "پاسخ شما"
    mail.set_content("plain part")
    mail.add_alternative(
        '<p>سلام <b>مینا</b></p><script>alert(1)</script><img src="x" onerror="alert(2)">',
        subtype="html",
    )
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=demo.sink.port)
    page = await client.get("/demo/mail")
    [name] = re.findall(r'href="/demo/mail/([0-9]+-[0-9a-f]+\.eml)', page.text)
    shown = await client.get(f"/demo/mail/{name}?lang=fa")
    assert "<b>مینا</b>" in shown.text and "پاسخ شما" in shown.text
    assert "<script" not in shown.text.split("</head>")[1]
    assert "onerror" not in shown.text and "alert(" not in shown.text
    assert 'dir="rtl"' in shown.text


async def test_a_mail_name_outside_the_sink_is_not_found(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    for name in ("..%2Fsecret_key", "1234567890-abcdefabcdef.eml", "frontdesk.db"):
        assert (await client.get(f"/demo/mail/{name}")).status_code == 404
