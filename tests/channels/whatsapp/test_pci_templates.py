"""PCI: a card number given as a template parameter is masked before the template is
stored or sent to the provider."""

from __future__ import annotations

from tests.channels.whatsapp.test_adapter import add_template, conversation, reply
from tests.conftest import run_jobs


async def test_a_card_number_in_a_template_parameter_is_masked(
    client, number, runtime, cast, graph_api
):
    assert (await add_template(client, cast, number)).status_code == 201
    conversation_id = await conversation(client, number, runtime, hours_ago=30)
    template = {"name": "order_update", "language": "en_US",
                "parameters": ["Sheena", "4111 1111 1111 1111"]}  # fmt: skip
    response = await reply(client, cast, conversation_id, template=template)
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "Hello Sheena, your order **** **** **** 1111 has shipped."
    await run_jobs(runtime)
    [sent] = graph_api.sent("template")
    parameters = sent["template"]["components"][0]["parameters"]
    assert [p["text"] for p in parameters] == ["Sheena", "**** **** **** 1111"]
