"""Batched Meta webhooks (WhatsApp, Messenger): one POST carries several messages. One that
cannot be stored used to fail the whole POST with 422 — the messages after it were never
stored, and the provider retried the ones before it. Now the good ones are stored, the bad
one is reported in `refused`, and the answer is 200 so nothing is delivered again."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select

from frontdesk.conversations.models import Message
from tests.channels import fakes
from tests.channels.meta import conftest as meta_kit
from tests.channels.test_poison import REFUSED_BY_DB, refusing_database  # noqa: F401 (fixture)
from tests.channels.whatsapp import conftest as wa_kit

graph = fakes.graph  # the fixture
meta_graph = fakes.meta_graph  # the fixture


async def stored_texts(runtime) -> list[str]:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        return list(
            (
                await session.scalars(
                    select(Message.text).where(Message.direction == "inbound").order_by(Message.id)
                )
            ).all()
        )


def whatsapp_batch(*texts: str, senders: tuple[str, ...] = ()) -> dict[str, Any]:
    """One notification carrying one message per text (each its own wamid)."""
    data = wa_kit.notification("text", timestamp=wa_kit.now_stamp())
    value = data["entry"][0]["changes"][0]["value"]
    first = value["messages"][0]
    value["messages"] = []
    for n, text in enumerate(texts):
        message = copy.deepcopy(first)
        message["id"] = f"wamid.batch{n}"
        message["text"]["body"] = text
        if n < len(senders):
            message["from"] = senders[n]
        value["messages"].append(message)
    return data


class TestWhatsAppBatch:
    async def test_one_unstorable_message_leaves_the_others_stored_and_answers_200(
        self,
        client,
        runtime,
        cast,
        graph,
        refusing_database,  # noqa: F811
    ):
        number = await wa_kit.create_number(client, runtime, cast, graph)
        batch = whatsapp_batch("first", f"poison {REFUSED_BY_DB}", "third")
        response = await wa_kit.deliver(client, number, batch)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["stored"] == 2
        assert [(r["id"], r["code"]) for r in body["refused"]] == [("wamid.batch1", "not_storable")]
        assert await stored_texts(runtime) == ["first", "third"]
        # The provider's retry of the same delivery stores nothing twice.
        again = await wa_kit.deliver(client, number, batch)
        assert again.status_code == 200
        assert (again.json()["stored"], again.json()["duplicates"]) == (0, 2)
        assert await stored_texts(runtime) == ["first", "third"]

    async def test_a_message_whose_sender_is_no_phone_is_refused_alone(
        self, client, runtime, cast, graph
    ):
        number = await wa_kit.create_number(client, runtime, cast, graph)
        batch = whatsapp_batch("from a bad id", "good", senders=("12", "971501234567"))
        response = await wa_kit.deliver(client, number, batch)
        assert response.status_code == 200, response.text
        assert [r["id"] for r in response.json()["refused"]] == ["wamid.batch0"]
        assert await stored_texts(runtime) == ["good"]

    async def test_a_delivery_of_nothing_but_a_bad_message_is_still_refused(
        self,
        client,
        runtime,
        cast,
        graph,
        refusing_database,  # noqa: F811
    ):
        number = await wa_kit.create_number(client, runtime, cast, graph)
        response = await wa_kit.deliver(client, number, whatsapp_batch(f"x {REFUSED_BY_DB}"))
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "not_storable"


class TestMessengerBatch:
    async def test_one_unstorable_event_leaves_the_others_stored_and_answers_200(
        self,
        client,
        runtime,
        cast,
        meta_graph,
        refusing_database,  # noqa: F811
    ):
        page = await meta_kit.create_page(client, runtime, cast, meta_graph, fetch_profiles=False)
        data = meta_kit.payload("message_text")
        first = meta_kit.event(data)
        events = []
        for n, text in enumerate(["one", f"two {REFUSED_BY_DB}", "three"]):
            item = copy.deepcopy(first)
            item["sender"]["id"] = f"61000{n}"
            item["message"] = {"mid": f"mid.batch{n}", "text": text}
            events.append(item)
        # Two entries, as Meta batches them: the poison in the first, a good one in each.
        data["entry"] = [
            {**data["entry"][0], "messaging": events[:2]},
            {**copy.deepcopy(data["entry"][0]), "messaging": events[2:]},
        ]
        response = await page.deliver(client, data)
        assert response.status_code == 200, response.text
        assert response.json()["stored"] == 2
        assert [r["id"] for r in response.json()["refused"]] == ["mid.batch1"]
        assert await stored_texts(runtime) == ["one", "three"]
