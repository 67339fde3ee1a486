# ruff: noqa: RUF001  (Arabic and Persian samples)
"""The public help centre: the visitor's language from Accept-Language, right-to-left
Persian with its own digits, published articles only (internal and draft answer the same
404 page as no article, in the page's language), sanitised bodies, the language shown on a
fallback, and feedback stored through the article page's form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from frontdesk.knowledge.models import Feedback
from frontdesk.web.help_views import preferred_language
from tests.knowledge.test_articles import create
from tests.web.test_views import csrf_of

FA = {
    "language": "fa",
    "title": "بازگشت وجه",
    "body": "پول شما در **۵ روز** برمی‌گردد.",
    "questions": ["پولم کجاست؟"],
}


async def translate(client, cast, article_id: int, text: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    response = await client.post(
        f"/api/v1/kb/articles/{article_id}/translations", json=text, headers=cast.ada.headers
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fa-IR,fa;q=0.9,en;q=0.8", "fa"),
        ("de-DE,ar;q=0.5,en;q=0.4", "ar"),
        ("en;q=0.2, fa;q=0.7", "fa"),
        ("de, fr;q=0.9", "en"),
        ("", "en"),
        ("ar;q=0, fa;q=garbage", "en"),
        ("AR-eg", "ar"),
    ],
)
def test_preferred_language(header: str, expected: str) -> None:
    assert preferred_language(header) == expected


class TestPortal:
    async def test_root_redirects_by_accept_language(self, client):
        response = await client.get("/help/", headers={"accept-language": "fa-IR,en;q=0.5"})
        assert response.status_code == 302
        assert response.headers["location"] == "/help/fa/"
        assert "accept-language" in response.headers["vary"].lower()
        other = await client.get("/help/", headers={"accept-language": "de"})
        assert other.headers["location"] == "/help/en/"

    async def test_persian_home_is_right_to_left_with_persian_digits(self, client, cast):
        article = await create(client, cast)
        await translate(client, cast, article["id"], FA)
        page = await client.get("/help/fa/")
        assert page.status_code == 200
        assert '<html lang="fa" dir="rtl">' in page.text
        assert "بازگشت وجه" in page.text and "How refunds work" not in page.text
        results = await client.get("/help/fa/search", params={"q": "بازگشت"})
        assert results.status_code == 200
        assert f"/help/fa/articles/{article['id']}" in results.text
        # The language picker keeps the search.
        assert 'href="/help/ar/search?q=%D8%A8' in results.text
        # "1 article found" with the Persian digit one.
        count = re.search(r'data-testid="fd-help-result-count">([^<]+)<', results.text)
        assert count and "۱" in count.group(1) and "1" not in count.group(1)

    async def test_article_page_is_sanitised_and_names_a_fallback_language(self, client, cast):
        article = await create(client, cast)
        page = await client.get(f"/help/ar/articles/{article['id']}")
        assert page.status_code == 200
        assert "<strong>card</strong>" in page.text
        assert "<script>alert" not in page.text
        assert 'data-testid="fd-help-fallback"' in page.text and "English" in page.text
        assert '<article class="card help-article" lang="en" dir="ltr"' in page.text
        english = await client.get(f"/help/en/articles/{article['id']}")
        assert 'data-testid="fd-help-fallback"' not in english.text

    async def test_internal_and_draft_articles_are_never_public(self, client, cast):
        internal = await create(client, cast, status="internal", title="Internal refund memo")
        draft = await create(client, cast, status="draft", title="Draft refund memo")
        for article in (internal, draft):
            page = await client.get(f"/help/fa/articles/{article['id']}")
            assert page.status_code == 404
            assert '<html lang="fa" dir="rtl">' in page.text
            assert "صفحه پیدا نشد" in page.text  # "Page not found", in Persian
        home = await client.get("/help/en/")
        results = await client.get("/help/en/search", params={"q": "refund memo"})
        for html in (home.text, results.text):
            assert "Internal refund memo" not in html and "Draft refund memo" not in html
        suggestions = await client.get(
            "/api/v1/public/kb/autocomplete", params={"q": "refund me", "language": "en"}
        )
        assert suggestions.json()["items"] == []

    async def test_unknown_pages_are_html_404s_in_the_page_language(self, client):
        for path in ("/help/ar/articles/999999", "/help/ar/nothing/here", "/help/ar/articles/x"):
            page = await client.get(path)
            assert page.status_code == 404, path
            assert page.headers["content-type"].startswith("text/html")
            assert '<html lang="ar" dir="rtl">' in page.text
        unknown = await client.get("/help/de/")
        assert unknown.status_code == 404 and '<html lang="en" dir="ltr">' in unknown.text

    async def test_feedback_is_stored(self, client, cast, runtime):
        article = await create(client, cast)
        await translate(client, cast, article["id"], FA)
        url = f"/help/fa/articles/{article['id']}"
        page = await client.get(url)
        response = await client.post(
            f"{url}/feedback",
            data={"csrf": csrf_of(page.text), "language": "fa", "helpful": "no",
                  "comment": "  مبلغ هنوز نرسیده  "},
        )  # fmt: skip
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"{url}?thanks=1")
        thanks = await client.get(response.headers["location"])
        assert 'data-testid="fd-help-thanks"' in thanks.text
        async with runtime.db.session() as session:
            rows = (await session.scalars(select(Feedback))).all()
        assert [(r.article_id, r.language, r.helpful, r.comment) for r in rows] == [
            (article["id"], "fa", False, "مبلغ هنوز نرسیده")
        ]

    async def test_feedback_needs_the_form_token(self, client, cast, runtime):
        article = await create(client, cast)
        response = await client.post(
            f"/help/en/articles/{article['id']}/feedback",
            data={"csrf": "forged", "language": "en", "helpful": "yes"},
        )
        assert response.status_code == 401
        async with runtime.db.session() as session:
            assert (await session.scalars(select(Feedback))).all() == []
