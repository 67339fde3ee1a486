"""PCI: a card number written on any channel, or by an agent, never reaches the database.
Messages arrive through each channel's real edge (signed API call, SMTP, a Twilio-signed SMS
webhook, the widget's websocket); then every row of every table is read back and searched."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from frontdesk.db import Base
from frontdesk.kit.pci import luhn_valid
from frontdesk.runtime import Runtime
from tests.channels.email.conftest import Mailer, create_email_inbox
from tests.channels.email.mails import mail
from tests.channels.sms.conftest import FakeTwilio, create_sms_inbox, deliver, fixture
from tests.conftest import inbound_payload, post_inbound, serve_app
from tests.helpers import Visitor, make_chat, visitor_token

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# One card per way in, so a leak names its path.
CARDS = {
    "api text": "4111111111111111",
    "api html": "378282246310005",
    "email subject": "5555555555554444",
    "email body": "6011111111111117",
    "sms": "4012888888881881",
    "webchat": "3566002020360505",
    "agent reply": "5105105105105100",
    "agent note": "4222222222222",
}
_ASCII = {chr(base + d): str(d) for base in (0x30, 0x0660, 0x06F0) for d in range(10)}


def grouped(number: str, separator: str, system: Any = None) -> str:
    written = separator.join(number[i : i + 4] for i in range(0, len(number), 4))
    return written.translate(system) if system else written


def folded(value: Any) -> str:
    """A stored value as text, every digit ASCII and separators dropped, so a card number is
    found however it was written (JSON columns are read decoded, never \\u-escaped)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return "".join(_ASCII.get(c, c) for c in text if c not in " -\u00a0")


async def everything_stored(runtime: Runtime) -> list[tuple[str, str, str]]:
    """(table, column, folded value) for every non-empty value of every table."""
    found = []
    async with runtime.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                found += [(table.name, k, folded(v)) for k, v in row.items() if v is not None]
    return found


class TestNoCardNumberIsStored:
    async def test_on_every_channel_and_from_agents(
        self, client, runtime, cast, listener, live_server
    ):
        assert all(luhn_valid([int(c) for c in card]) for card in CARDS.values())
        # API channel: plain text and HTML.
        response = await post_inbound(
            client,
            cast.website,
            inbound_payload(
                "pci-1",
                "layla@example.com",
                f"my card is {grouped(CARDS['api text'], ' ')}",
                html=f"<p>or this one: <b>{CARDS['api html']}</b></p>",
            ),
        )
        assert response.status_code == 202, response.text
        api_conversation = response.json()["conversation_id"]
        # E-mail: the subject in Persian digits, the body in Arabic-Indic digits.
        await create_email_inbox(runtime)
        await Mailer(listener.port).send(
            mail(
                subject=f"کارت {grouped(CARDS['email subject'], '-', PERSIAN)}",
                text=f"رقم بطاقتي {grouped(CARDS['email body'], ' ', ARABIC_INDIC)}",
                message_id="<pci@example.com>",
            )
        )
        # SMS through Twilio's signed webhook, Arabic-Indic digits with dashes.
        twilio = FakeTwilio()
        async with serve_app(twilio.app) as address:
            twilio.address = address
            sms = await create_sms_inbox(client, runtime, cast, twilio)
            body = f"card {grouped(CARDS['sms'], '-', ARABIC_INDIC)}"
            response = await deliver(client, sms, fixture("incoming_sms", Body=body))
            assert response.status_code == 200, response.text
        # Webchat: the visitor's websocket, Persian digits.
        chat = await make_chat(runtime, cast)
        visitor = await Visitor.connect(live_server, await visitor_token(client, chat))
        await visitor.say("pci-chat-1", f"کارتم {CARDS['webchat'].translate(PERSIAN)}")
        await visitor.close()
        # An agent's reply and internal note.
        url = f"/api/v1/conversations/{api_conversation}/messages"
        for text, private in ((CARDS["agent reply"], False), (CARDS["agent note"], True)):
            response = await client.post(
                url, json={"text": f"noted: {text}", "private": private}, headers=cast.ada.headers
            )
            assert response.status_code in (200, 201), response.text

        stored = await everything_stored(runtime)
        leaks = [
            (path, table, column)
            for path, card in CARDS.items()
            for table, column, value in stored
            if card in value
        ]
        assert leaks == []
        # The masked forms did arrive (each path stored its message, last four kept).
        texts = [v for table, column, v in stored if (table, column) == ("messages", "text")]
        for path, card in CARDS.items():
            if path not in ("api html", "email subject", "agent note"):
                assert any("*" * 8 + card[-4:] in text for text in texts), path
