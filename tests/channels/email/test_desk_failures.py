"""A reply that fails is told to the agent as a sentence in their language, with "Send again"
when that can help, and never as exception text: an inbox without a relay fails, an admin
adds the relay with the create route's `smtp` block, and sending again delivers the mail."""

from __future__ import annotations

import re

from tests.channels.email.conftest import Relay, create_email_inbox
from tests.channels.email.mails import mail
from tests.channels.email.test_outbound import reply_to, status_of
from tests.conftest import run_jobs
from tests.web.test_views import csrf_of, log_in

RAW = ("smtp relay", "PermanentJobError", "PermanentSendError", "not_configured", "Traceback")


class TestFailedReply:
    async def test_failure_is_a_translated_sentence_then_send_again_delivers(
        self, client, cast, runtime, mailer, relay: Relay
    ):
        inbox_id = await create_email_inbox(runtime)  # no relay yet
        await mailer.send(mail(message_id="<f1@example.org>", subject="Order 77"))
        message_id = await reply_to(runtime, "<f1@example.org>", text="On its way")
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "failed"
        await client.patch(
            f"/api/v1/agents/{cast.ada.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        await log_in(client, cast.ada)
        conversation = (
            await client.get(f"/api/v1/conversations?inbox_id={inbox_id}", headers=cast.ada.headers)
        ).json()["items"][0]["id"]
        page = (await client.get(f"/conversations/{conversation}")).text
        failure = re.search(r'data-testid="fd-delivery-failure"[^>]*>([^<]*)<', page)
        assert failure and failure.group(1).startswith("این صندوق هنوز نمی‌تواند بفرستد")
        assert 'data-can-retry="true"' in page and 'data-testid="fd-retry"' in page
        assert not [raw for raw in RAW if raw in page]

        relay_block = {"host": "127.0.0.1", "port": relay.port, "security": "none"}
        fixed = await client.patch(
            f"/api/v1/inboxes/{inbox_id}", json={"smtp": relay_block}, headers=cast.ada.headers
        )
        assert fixed.status_code == 200, fixed.text
        sent_again = await client.post(
            f"/conversations/{conversation}/messages/{message_id}/retry",
            data={"csrf": csrf_of(page)},
        )
        assert sent_again.status_code == 303
        await run_jobs(runtime)
        assert await status_of(runtime, message_id) == "sent"
        assert [str(m["Subject"]) for m in relay.mails] == ["Re: Order 77"]
        page = (await client.get(f"/conversations/{conversation}")).text
        assert 'data-testid="fd-delivery-failure"' not in page

    async def test_only_a_failed_reply_of_that_conversation_is_sent_again(
        self, client, cast, runtime, mailer, relay: Relay
    ):
        inbox_id = await create_email_inbox(
            runtime, smtp={"host": "127.0.0.1", "port": relay.port, "security": "none"}
        )
        await mailer.send(mail(message_id="<f2@example.org>"))
        message_id = await reply_to(runtime, "<f2@example.org>")
        await run_jobs(runtime)
        await log_in(client, cast.ada)
        conversation = (
            await client.get(f"/api/v1/conversations?inbox_id={inbox_id}", headers=cast.ada.headers)
        ).json()["items"][0]["id"]
        page = (await client.get(f"/conversations/{conversation}")).text
        for target in (
            f"/conversations/{conversation}/messages/{message_id}/retry",  # sent: nothing to do
            f"/conversations/{conversation + 1000}/messages/{message_id}/retry",  # not its own
        ):
            await client.post(target, data={"csrf": csrf_of(page)})
        await run_jobs(runtime)
        assert len(relay.mails) == 1
