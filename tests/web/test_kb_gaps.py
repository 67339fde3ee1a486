"""Settings → Knowledge base → Content gaps: admins only; the clusters with their counts and
examples, filtered by period and language, and a link that opens the article form with the
question as title and first example question (right to left for Arabic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from frontdesk.kit import uow
from frontdesk.knowledge import service
from tests.web.test_settings import open_as
from tests.web.test_views import csrf_of


async def miss(runtime, text: str, language: str, days_ago: int = 0) -> None:  # type: ignore[no-untyped-def]
    async with runtime.db.session() as session:
        await service.record_miss(
            session, text, language=language, source="bot",
            now=datetime.now(UTC) - timedelta(days=days_ago),
        )  # fmt: skip
        await uow.commit(session)


async def test_only_admins(client, cast):
    await open_as(client, cast.alice, "/")
    assert (await client.get("/settings/knowledge/gaps")).status_code == 403


async def test_clusters_filters_and_write_an_article(client, cast, runtime):
    await miss(runtime, "Do you repair harpsichords?", "en")
    await miss(runtime, "do you repair harpsichords", "en")
    await miss(runtime, "هل تصلحون القيثارة؟", "ar")
    await miss(runtime, "Do you sell gift cards?", "en", days_ago=20)
    html = await open_as(client, cast.ada, "/settings/knowledge")
    assert 'href="/settings/knowledge/gaps"' in html
    page = await client.get("/settings/knowledge/gaps")
    assert page.status_code == 200
    assert page.text.count('data-testid="fd-gap-row"') == 3
    text = page.text.lower()
    assert text.index("you repair harpsichords") < text.index("gift cards")  # most missed first
    week = await client.get("/settings/knowledge/gaps", params={"days": "7"})
    assert week.text.count('data-testid="fd-gap-row"') == 2
    arabic = await client.get("/settings/knowledge/gaps", params={"language": "ar"})
    assert arabic.text.count('data-testid="fd-gap-row"') == 1
    link = "/settings/knowledge/new?question=%D9%87%D9%84"
    assert link in arabic.text and "&amp;language=ar" in arabic.text
    nothing = await client.get("/settings/knowledge/gaps", params={"language": "de"})
    assert 'data-testid="fd-gaps-empty"' in nothing.text
    form = await client.get(
        "/settings/knowledge/new", params={"question": "هل تصلحون القيثارة؟", "language": "ar"}
    )
    assert form.status_code == 200
    assert form.text.count("هل تصلحون القيثارة؟") >= 2  # the title and the example question
    assert 'value="ar"' in form.text


async def test_in_arabic_the_page_is_right_to_left(client, cast, runtime):
    await miss(runtime, "Do you repair harpsichords?", "en")
    home = await open_as(client, cast.ada, "/")
    await client.post("/me/language", data={"language": "ar", "csrf": csrf_of(home)})
    page = await client.get("/settings/knowledge/gaps")
    assert page.status_code == 200
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "ثغرات المحتوى" in page.text and "اكتب مقالة" in page.text
    assert "Do you repair harpsichords?</li>" in page.text  # an example, as typed


async def test_a_gap_marked_as_one_we_do_not_answer_leaves_the_report(client, cast, runtime):
    await miss(runtime, "Do you repair harpsichords?", "en")
    await miss(runtime, "Do you sell gift cards?", "en")
    await open_as(client, cast.ada, "/")
    page = await client.get("/settings/knowledge/gaps")
    assert page.text.count('data-testid="fd-gap-out-of-scope"') == 2
    marked = await client.post(
        "/settings/knowledge/gaps/out-of-scope",
        data={"csrf": csrf_of(page.text), "language": "en",
              "question": ["Do you repair harpsichords?", "do you repair harpsichords"]},
    )  # fmt: skip
    assert marked.status_code == 303
    page = await client.get(marked.headers["location"])
    assert 'data-testid="fd-gap-marked"' in page.text
    assert page.text.count('data-testid="fd-gap-row"') == 1 and "harpsichord" not in page.text
    stored = await client.get("/api/v1/kb/out-of-scope", headers=cast.ada.headers)
    assert [i["text"] for i in stored.json()["items"]] == ["Do you repair harpsichords?"]
