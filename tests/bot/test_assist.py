"""Agent assist: articles for the customer's recent messages, in the customer's language when
the article has it, flagged when the customer was already shown one and said it did not help."""

from __future__ import annotations

from tests.bot.test_service import PASSWORD, PASSWORD_FA, SHIPPING, Customer, article


async def suggestions(client, cast, conversation_id: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/suggestions", headers=cast.alice.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestSuggestions:
    async def test_articles_for_what_the_customer_wrote(self, client, cast, runtime):

        password = await article(client, cast, PASSWORD)
        await article(client, cast, SHIPPING)
        maya = Customer(client, cast, runtime)  # no bot on the inbox: plain agent assist
        await maya.says("I can't log in, I forgot my password")
        found = await suggestions(client, cast, maya.conversation_id)
        assert found["language"] == "en"
        top = found["items"][0]
        assert top["article_id"] == password
        assert top["text"].startswith("Reset your password\n\n")
        assert (top["already_shown"], top["did_not_help"]) == (False, False)

    async def test_the_customers_language_and_the_failed_article_flagged(self, client, cast, maya):
        password = await article(client, cast, PASSWORD)
        response = await client.post(
            f"/api/v1/kb/articles/{password}/translations", json=PASSWORD_FA,
            headers=cast.ada.headers,
        )  # fmt: skip
        assert response.status_code == 201
        [shown] = await maya.says("گذرواژه‌ام را فراموش کرده‌ام")
        assert shown.meta["kb_article_id"] == password
        await maya.says("نه")
        found = await suggestions(client, cast, maya.conversation_id)
        assert found["language"] == "fa"
        [item] = [i for i in found["items"] if i["article_id"] == password]
        assert item["language"] == "fa"
        assert item["text"].startswith("بازنشانی گذرواژه")
        assert (item["already_shown"], item["did_not_help"]) == (True, True)

    async def test_no_words_no_suggestions(self, client, cast, runtime):

        await article(client, cast, PASSWORD)
        maya = Customer(client, cast, runtime)
        await maya.says("👍")  # no words to search with
        assert (await suggestions(client, cast, maya.conversation_id))["items"] == []

    async def test_a_failed_article_stays_flagged_after_the_subject_moved_on(
        self, client, cast, maya
    ):
        password = await article(client, cast, PASSWORD)
        await maya.says("I forgot my password")
        await maya.says("no")
        for text in ("Do you tune harpsichords?", "Or sell harpsichord strings?", "Quills?"):
            await maya.says(text)
        found = await suggestions(client, cast, maya.conversation_id)
        [item] = [i for i in found["items"] if i["article_id"] == password]
        assert item["did_not_help"] is True
