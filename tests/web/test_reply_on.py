"""The desktop's "Reply on" list (ADR 0007) and the closed reply window said the way the
channel works: templates on WhatsApp, the HUMAN_AGENT tag's 7 days on Messenger."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from frontdesk.conversations.models import Message
from frontdesk.db import utcnow
from tests.channels import fakes
from tests.channels.meta import conftest as meta_kit
from tests.channels.sms import conftest as sms_kit
from tests.channels.whatsapp import conftest as wa_kit
from tests.web.test_views import csrf_of, log_in

graph = fakes.graph  # the fixture
meta_graph = fakes.meta_graph  # the fixture
twilio = fakes.twilio  # the fixture

WA_ID = "971501234567"  # the SMS fixture's sender, as WhatsApp names it


async def age_inbound(runtime, by: timedelta) -> None:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        old = utcnow() - by
        await session.execute(
            update(Message)
            .where(Message.direction == "inbound")
            .values(sent_at=old, created_at=old)
        )
        await session.commit()


async def first_conversation(client, cast, inbox_id: int) -> int:  # type: ignore[no-untyped-def]
    listed = await client.get(
        f"/api/v1/conversations?inbox_id={inbox_id}", headers=cast.ada.headers
    )
    return int(listed.json()["items"][0]["id"])


async def messenger_conversation(client, runtime, cast, meta_graph) -> int:  # type: ignore[no-untyped-def]
    page = await meta_kit.create_page(client, runtime, cast, meta_graph, fetch_profiles=False)
    response = await page.deliver(client, meta_kit.payload("message_text"))
    assert response.status_code == 200, response.text
    return await first_conversation(client, cast, page.id)


class TestClosedWindowText:
    async def test_messenger_past_seven_days_says_the_tag_ran_out_not_templates(
        self, client, runtime, cast, meta_graph
    ):
        conversation_id = await messenger_conversation(client, runtime, cast, meta_graph)
        await age_inbound(runtime, timedelta(days=8))
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{conversation_id}")
        response = await client.post(
            f"/conversations/{conversation_id}/reply",
            data={"text": "still there?", "csrf": csrf_of(page.text)},
            headers={"hx-request": "true"},
        )
        assert response.status_code == 422
        assert "HUMAN_AGENT" in response.text and "(reply_window_closed)" in response.text
        assert "template" not in response.text
        shown = await client.get(f"/conversations/{conversation_id}?error=reply_window_closed")
        assert "the customer must write first" in shown.text
        assert "send one of this inbox&#39;s templates" not in shown.text
        assert 'data-testid="fd-template-form"' not in shown.text

    async def test_messenger_within_seven_days_keeps_the_reply_box(
        self, client, runtime, cast, meta_graph
    ):
        conversation_id = await messenger_conversation(client, runtime, cast, meta_graph)
        await age_inbound(runtime, timedelta(days=2))
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{conversation_id}")
        assert "a person may still answer (HUMAN_AGENT tag)" in page.text
        assert "only templates may be sent" not in page.text
        form = page.text.split('id="fd-reply-form"')[1].split(">")[0]
        assert "hidden" not in form

    async def test_whatsapp_still_offers_templates_in_persian(self, client, runtime, cast, graph):
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        number = await wa_kit.create_number(client, runtime, cast, graph)
        hook = await wa_kit.deliver(client, number, wa_kit.notification("text"))
        assert hook.status_code == 200
        conversation_id = await first_conversation(client, cast, number.id)
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{conversation_id}")
        response = await client.post(
            f"/conversations/{conversation_id}/reply",
            data={"text": "hello", "csrf": csrf_of(page.text)},
            headers={"hx-request": "true"},
        )
        assert response.status_code == 422
        assert "(reply_window_closed)" in response.text
        assert "قالب" in response.text  # "template" in Persian


class TestReplyOnList:
    async def test_lists_the_customers_channels_with_their_state(
        self, client, runtime, cast, graph, twilio, meta_graph
    ):
        sms = await sms_kit.create_sms_inbox(client, runtime, cast, twilio)
        number = await wa_kit.create_number(client, runtime, cast, graph)
        page_inbox = await meta_kit.create_page(
            client, runtime, cast, meta_graph, fetch_profiles=False
        )
        assert (
            await sms_kit.deliver(client, sms, sms_kit.fixture("incoming_sms", Body="hi"))
        ).status_code == 200
        conversation_id = await first_conversation(client, cast, sms.id)
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{conversation_id}")
        assert 'data-testid="fd-reply-channel"' in page.text
        listed = page.text.split('data-testid="fd-reply-channel"')[1].split("</select>")[0]
        whatsapp = listed.split(f'value="{number.id}:')[1].split("</option>")[0]
        assert 'data-state="window_closed"' in whatsapp
        assert (
            "window closed: template needed" in whatsapp and "\u2068+971501234567\u2069" in whatsapp
        )
        messenger = listed.split(f'value="{page_inbox.id}:')[1].split("</option>")[0]
        assert 'data-state="no_identity"' in messenger and "disabled" in messenger
        assert f'value="{sms.id}:' not in listed  # this conversation's own inbox is the default

    async def test_sending_on_whatsapp_takes_the_agent_to_that_conversation(
        self, client, runtime, cast, graph, twilio
    ):
        sms = await sms_kit.create_sms_inbox(client, runtime, cast, twilio)
        number = await wa_kit.create_number(client, runtime, cast, graph)
        await sms_kit.deliver(client, sms, sms_kit.fixture("incoming_sms", Body="hi"))
        on_sms = await first_conversation(client, cast, sms.id)
        stamp = wa_kit.now_stamp()
        hook = await wa_kit.deliver(
            client, number, wa_kit.notification("text", sender=WA_ID, timestamp=stamp)
        )
        assert hook.status_code == 200
        on_wa = await first_conversation(client, cast, number.id)
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{on_sms}")
        listed = page.text.split('data-testid="fd-reply-channel"')[1].split("</select>")[0]
        value = f"{number.id}:" + listed.split(f'value="{number.id}:')[1].split('"')[0]
        assert value != f"{number.id}:"  # the customer's phone is the identity there
        response = await client.post(
            f"/conversations/{on_sms}/reply",
            data={"text": "On WhatsApp now", "reply_on": value, "csrf": csrf_of(page.text)},
            headers={"hx-request": "true"},
        )
        assert response.status_code == 204
        assert response.headers["hx-redirect"] == f"/conversations/{on_wa}"
        there = await client.get(f"/conversations/{on_wa}")
        assert "On WhatsApp now" in there.text and 'data-testid="fd-switched"' in there.text
        assert f'href="/conversations/{on_sms}"' in there.text
        back = await client.get(f"/conversations/{on_sms}")
        switched = back.text.split('data-testid="fd-switched"')[1].split("</div>")[0]
        assert f'href="/conversations/{on_wa}"' in switched and "WhatsApp" in switched
        assert (
            json.loads(
                (
                    await client.get(
                        f"/api/v1/conversations/{on_wa}/messages", headers=cast.ada.headers
                    )
                ).text
            )["items"][-1]["text"]
            == "On WhatsApp now"
        )
