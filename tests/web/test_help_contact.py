"""The help centre's contact form: it opens an e-mail conversation that records the published
articles the customer read first (in reading order), which the agent sees at the top of the
conversation and agent assist marks as already shown. Bad input writes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from frontdesk.auth import repository as auth_repository
from frontdesk.conversations.models import Message
from frontdesk.inboxes import service as inboxes
from frontdesk.inboxes.schemas import InboxCreate
from frontdesk.kit import uow
from tests.bot.test_service import PASSWORD, SHIPPING, article
from tests.web.test_settings import open_as
from tests.web.test_views import csrf_of


async def support_mail(runtime) -> int:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        support = await auth_repository.get_team_by_name(session, "Support")
        assert support is not None
        inbox = await inboxes.create_inbox(
            session,
            InboxCreate(
                channel="email", name="Support", team_ids=[support.id],
                address="support@frontdesk.test",
            ),
            runtime.settings,
        )  # fmt: skip
        await uow.commit(session)
    return inbox.id


async def messages(runtime) -> list[Message]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        found = list(await session.scalars(select(Message).order_by(Message.id)))
        await session.commit()
    return found


async def test_no_contact_form_without_an_email_inbox(client, cast):
    assert (await client.get("/help/en/contact")).status_code == 404


async def test_the_form_records_what_the_customer_read_first(client, cast, runtime):
    await support_mail(runtime)
    password = await article(client, cast, PASSWORD)
    shipping = await article(client, cast, SHIPPING)
    draft = await article(client, cast, {**SHIPPING, "status": "draft", "title": "Draft"})
    page = await client.get("/help/fa/contact")
    assert page.status_code == 200 and 'dir="rtl"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "form_id": "form-0001",
        "name": "Maya",
        "email": "maya@example.com",
        "message": "I still cannot log in.\nPlease help.",
        "read": f"{shipping},{draft},999999,x,{password},{shipping}",
    }
    sent = await client.post("/help/fa/contact", data=form)
    assert sent.status_code == 303 and sent.headers["location"].endswith("sent=1")
    again = await client.post("/help/fa/contact", data=form)  # Send pressed twice
    assert again.status_code == 303
    [stored] = await messages(runtime)
    assert stored.meta["help_articles_read"] == [shipping, password]
    assert stored.text == "I still cannot log in.\nPlease help."

    suggestions = await client.get(
        f"/api/v1/conversations/{stored.conversation_id}/suggestions", headers=cast.alice.headers
    )
    body = suggestions.json()
    assert [a["article_id"] for a in body["read_first"]] == [shipping, password]
    [item] = [i for i in body["items"] if i["article_id"] == password]
    assert item["already_shown"] is True and item["did_not_help"] is False
    await open_as(client, cast.alice, "/")
    panel = (await client.get(f"/conversations/{stored.conversation_id}/handoff")).text
    assert 'data-testid="fd-help-read"' in panel
    assert panel.index(f'data-article-id="{shipping}"') < panel.index(
        f'data-article-id="{password}"'
    )


async def test_bad_input_writes_nothing(client, cast, runtime):
    await support_mail(runtime)
    page = await client.get("/help/en/contact")
    base = {"csrf": csrf_of(page.text), "form_id": "form-0002", "message": "hi"}
    for changes in ({"email": "not-an-address"}, {"email": "a@b.example", "message": "  "},
                    {"email": "a@b.example", "form_id": "bad id"}):  # fmt: skip
        answer = await client.post("/help/en/contact", data={**base, **changes})
        assert answer.status_code == 303 and "error=1" in answer.headers["location"]
    forged = await client.post(
        "/help/en/contact", data={**base, "csrf": "forged", "email": "a@b.example"}
    )
    assert forged.status_code in (400, 401, 403)  # refused, as every forged form is
    async with runtime.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
        await session.commit()
