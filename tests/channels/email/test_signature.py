"""An agent's e-mail signature goes under their e-mail replies (text and HTML), and only
there: not under replies on other channels, nor under the bot's."""

from __future__ import annotations

from frontdesk.auth.models import Agent
from frontdesk.conversations import repository as conversations_repository
from frontdesk.conversations import service as conversations
from frontdesk.conversations.schemas import ReplyCreate
from frontdesk.kit import uow
from tests.channels.email.helpers import message_by_external
from tests.channels.email.mails import mail
from tests.conftest import inbound_payload, post_inbound, run_jobs


async def reply_as(runtime, conversation_id, agent_id, *, html=None, author_kind="agent"):  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        conversation = await conversations_repository.get_conversation(session, conversation_id)
        author = await session.get(Agent, agent_id)
        assert conversation is not None and author is not None
        author.signature = "Alice\nFrontdesk support"
        message = await conversations.reply(
            session, conversation, author=author, data=ReplyCreate(text="Refunded.", html=html),
            author_kind=author_kind,
        )  # fmt: skip
        await uow.commit(session)
        return message


class TestSignature:
    async def test_under_an_email_reply(self, support, mailer, relay, runtime, cast):
        await mailer.send(mail(sender="omar@example.org", message_id="<s1@example.org>"))
        stored = await message_by_external(runtime, "<s1@example.org>")
        assert stored is not None
        message = await reply_as(
            runtime, stored.conversation_id, cast.alice.id, html="<p>Refunded.</p>"
        )
        assert message.text == "Refunded.\n\n-- \nAlice\nFrontdesk support"
        assert message.html is not None and "Alice<br>Frontdesk support" in message.html
        await run_jobs(runtime)
        sent = relay.mails[0]
        plain = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "\n-- \nAlice\nFrontdesk support" in plain

    async def test_not_under_other_channels_or_the_bot(self, client, cast, runtime):
        body = await post_inbound(client, cast.website, inbound_payload("x1", "l@example.com"))
        conversation_id = body.json()["conversation_id"]
        api = await reply_as(runtime, conversation_id, cast.alice.id)
        assert api.text == "Refunded."
        bot = await reply_as(runtime, conversation_id, cast.alice.id, author_kind="bot")
        assert bot.text == "Refunded."
