# ruff: noqa: RUF001  (Arabic and Persian samples)
"""Articles over the contract API: admins write, agents read, drafts stay with the authors,
translations go stale when the source changes, every saved text is a version."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Cast

REFUND = {
    "language": "en",
    "title": "How refunds work",
    "body": "Refunds reach your **card** within 5 days.\n\n<script>alert(1)</script>",
    "status": "published",
    "category": "Billing",
    "tags": ["refund", "card"],
    "questions": ["Where is my refund?", "How long does a refund take?"],
}


async def create(client: httpx.AsyncClient, cast: Cast, **changes: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/kb/articles", json={**REFUND, **changes}, headers=cast.ada.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestCreate:
    async def test_admin_creates_a_rendered_and_sanitised_article(self, client, cast):
        article = await create(client, cast)
        assert article["id"] >= 1
        assert article["language"] == "en"
        assert article["questions"] == REFUND["questions"]
        assert "<strong>card</strong>" in article["html"]
        assert "<script" not in article["html"]
        assert article["tags"] == ["refund", "card"]

    async def test_agents_may_not_write(self, client, cast):
        response = await client.post("/api/v1/kb/articles", json=REFUND, headers=cast.alice.headers)
        assert response.status_code == 403

    async def test_unknown_fields_and_bad_languages_are_refused(self, client, cast):
        for body in ({**REFUND, "colour": "red"}, {**REFUND, "language": "not a tag"}):
            response = await client.post("/api/v1/kb/articles", json=body, headers=cast.ada.headers)
            assert response.status_code == 422
            assert response.json()["error"]["code"] == "invalid"

    async def test_language_tags_are_stored_canonically(self, client, cast):
        article = await create(client, cast, language="pt-br")
        assert article["language"] == "pt-BR"


class TestRead:
    async def test_drafts_are_for_admins_only(self, client, cast):
        draft = await create(client, cast, status="draft")
        assert (
            await client.get(f"/api/v1/kb/articles/{draft['id']}", headers=cast.alice.headers)
        ).status_code == 404
        assert (
            await client.get(f"/api/v1/kb/articles/{draft['id']}", headers=cast.ada.headers)
        ).status_code == 200

    async def test_agents_list_published_and_internal(self, client, cast):
        published = await create(client, cast)
        internal = await create(client, cast, status="internal")
        await create(client, cast, status="draft")
        listed = await client.get("/api/v1/kb/articles", headers=cast.alice.headers)
        assert [a["id"] for a in listed.json()["items"]] == [published["id"], internal["id"]]

    async def test_reading_needs_a_token(self, client, cast):
        article = await create(client, cast)
        assert (await client.get(f"/api/v1/kb/articles/{article['id']}")).status_code == 401


class TestTranslations:
    async def test_a_translation_joins_the_article(self, client, cast):
        article = await create(client, cast)
        response = await client.post(
            f"/api/v1/kb/articles/{article['id']}/translations",
            json={
                "language": "fa",
                "title": "بازپرداخت چطور کار می‌کند",
                "body": "پول شما در ۵ روز برمی‌گردد.",
                "questions": ["پولم کجاست؟"],
            },
            headers=cast.ada.headers,
        )
        assert response.status_code == 201, response.text
        languages = {t["language"]: t for t in response.json()["translations"]}
        assert set(languages) == {"en", "fa"}
        assert languages["fa"]["questions"] == ["پولم کجاست؟"]
        assert languages["fa"]["stale"] is False

    async def test_a_translation_goes_stale_when_the_source_changes(self, client, cast):
        article = await create(client, cast)
        url = f"/api/v1/kb/articles/{article['id']}"
        await client.post(
            f"{url}/translations",
            json={"language": "ar", "title": "الاسترداد", "body": "خمسة أيام"},
            headers=cast.ada.headers,
        )
        patched = await client.patch(
            url, json={"body": "Refunds take 10 days now."}, headers=cast.ada.headers
        )
        assert patched.status_code == 200, patched.text
        by_language = {t["language"]: t for t in patched.json()["translations"]}
        assert by_language["ar"]["stale"] is True
        assert by_language["en"]["stale"] is False
        assert patched.json()["questions"] == REFUND["questions"]  # kept when not sent
        again = await client.post(
            f"{url}/translations",
            json={"language": "ar", "title": "الاسترداد", "body": "عشرة أيام"},
            headers=cast.ada.headers,
        )
        assert {t["language"]: t["stale"] for t in again.json()["translations"]}["ar"] is False

    async def test_a_status_change_alone_keeps_translations_fresh(self, client, cast):
        article = await create(client, cast)
        url = f"/api/v1/kb/articles/{article['id']}"
        await client.post(
            f"{url}/translations",
            json={"language": "ar", "title": "الاسترداد", "body": "خمسة أيام"},
            headers=cast.ada.headers,
        )
        patched = await client.patch(url, json={"status": "internal"}, headers=cast.ada.headers)
        assert patched.json()["status"] == "internal"
        assert all(not t["stale"] for t in patched.json()["translations"])


class TestVersions:
    async def test_every_changed_text_is_a_version(self, client, cast):
        article = await create(client, cast)
        url = f"/api/v1/kb/articles/{article['id']}"
        await client.patch(url, json={"title": "Refunds"}, headers=cast.ada.headers)
        await client.patch(
            url, json={"tags": ["money"]}, headers=cast.ada.headers
        )  # no text change
        versions = (await client.get(f"{url}/versions", headers=cast.alice.headers)).json()
        assert [(v["language"], v["number"], v["title"]) for v in versions] == [
            ("en", 2, "Refunds"),
            ("en", 1, "How refunds work"),
        ]


class TestDelete:
    async def test_deleted_articles_are_gone_and_unsearchable(self, client, cast):
        article = await create(client, cast)
        url = f"/api/v1/kb/articles/{article['id']}"
        assert (await client.delete(url, headers=cast.alice.headers)).status_code == 403
        assert (await client.delete(url, headers=cast.ada.headers)).status_code == 204
        assert (await client.get(url, headers=cast.ada.headers)).status_code == 404
        found = await client.get(
            "/api/v1/kb/search", params={"q": "refund"}, headers=cast.alice.headers
        )
        assert found.json() == {"items": []}


class TestFeedback:
    async def test_the_public_says_whether_it_helped(self, client, cast):
        article = await create(client, cast)
        url = f"/api/v1/public/kb/articles/{article['id']}/feedback"
        for helpful in (True, True, False):
            response = await client.post(
                url, json={"language": "en", "helpful": helpful, "comment": "ok"}
            )
            assert response.status_code == 204
        summary = await client.get(
            f"/api/v1/kb/articles/{article['id']}/feedback", headers=cast.alice.headers
        )
        assert summary.json() == [{"language": "en", "helpful": 2, "not_helpful": 1}]

    async def test_no_feedback_on_internal_articles_or_missing_languages(self, client, cast):
        internal = await create(client, cast, status="internal")
        published = await create(client, cast)
        refused = await client.post(
            f"/api/v1/public/kb/articles/{internal['id']}/feedback",
            json={"language": "en", "helpful": True},
        )
        assert refused.status_code == 404
        missing = await client.post(
            f"/api/v1/public/kb/articles/{published['id']}/feedback",
            json={"language": "fa", "helpful": True},
        )
        assert missing.status_code == 404
