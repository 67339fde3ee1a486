"""The desktop on an SMS conversation: the reply box's segment counter, and a refused
reply to an opted-out number said in the agent's language."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.conversations.models import Message
from tests.channels.sms.conftest import deliver, fixture
from tests.conftest import inbound_payload, post_inbound
from tests.web.test_views import csrf_of, log_in


async def sms_conversation(client, sms, runtime, body: str = "hi") -> int:  # type: ignore[no-untyped-def]
    response = await deliver(client, sms, fixture("incoming_sms", Body=body))
    assert response.status_code == 200, response.text
    async with runtime.db.session() as session:
        conversation_id = (await session.scalars(select(Message.conversation_id))).first()
    assert conversation_id is not None
    return int(conversation_id)


class TestSegmentCounter:
    async def test_the_reply_box_counts_segments_on_sms(self, client, sms, runtime, cast):
        conversation_id = await sms_conversation(client, sms, runtime)
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{conversation_id}")
        assert 'data-testid="fd-sms-segments"' in page.text
        assert f'hx-get="/conversations/{conversation_id}/sms-segments"' in page.text
        assert "0 characters · 1 SMS segments (GSM-7)" in page.text

    async def test_the_counter_follows_the_text(self, client, sms, runtime, cast):
        conversation_id = await sms_conversation(client, sms, runtime)
        await log_in(client, cast.alice)
        url = f"/conversations/{conversation_id}/sms-segments"
        latin = await client.get(url, params={"text": "a" * 161})
        assert "161 characters · 2 SMS segments (GSM-7)" in latin.text
        persian = await client.get(url, params={"text": "س" * 71})
        assert "71 characters · 2 SMS segments (UCS-2)" in persian.text
        assert "70 characters per segment" in persian.text

    async def test_a_persian_agent_reads_the_counter_in_persian(self, client, sms, runtime, cast):
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        conversation_id = await sms_conversation(client, sms, runtime)
        await log_in(client, cast.alice)
        counted = await client.get(
            f"/conversations/{conversation_id}/sms-segments", params={"text": "سلام"}
        )
        assert "\u06f4 نویسه · \u06f1 بخش پیامک (UCS-2)" in counted.text  # Persian 4 and 1

    async def test_other_channels_have_no_counter(self, client, cast):
        body = (
            await post_inbound(client, cast.website, inbound_payload("m1", "layla@example.com"))
        ).json()
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{body['conversation_id']}")
        assert "fd-sms-segments" not in page.text

    async def test_an_agent_outside_the_inbox_gets_404(self, client, sms, runtime, cast):
        conversation_id = await sms_conversation(client, sms, runtime)
        await log_in(client, cast.bob)  # Billing team: does not serve the SMS inbox
        counted = await client.get(f"/conversations/{conversation_id}/sms-segments")
        assert counted.status_code == 404


class TestRefusedReply:
    async def test_a_reply_to_an_opted_out_number_says_why(self, client, sms, runtime, cast):
        conversation_id = await sms_conversation(client, sms, runtime, "STOP")
        await log_in(client, cast.alice)
        page = await client.get(f"/conversations/{conversation_id}")
        response = await client.post(
            f"/conversations/{conversation_id}/reply",
            data={"text": "are you there?", "csrf": csrf_of(page.text)},
        )
        assert response.status_code == 303
        assert "?error=opted_out" in response.headers["location"]
        shown = await client.get(response.headers["location"])
        assert "they must send START first" in shown.text
        async with runtime.db.session() as session:
            outbound = (
                await session.scalars(select(Message).where(Message.direction == "outbound"))
            ).all()
        assert outbound == []
