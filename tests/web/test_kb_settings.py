"""Settings → Knowledge base: admins only; create an article from the form (tags and
example questions parsed, draft by default), edit it, add a translation whose boxes are
right to left, see it flagged stale after the source changes; a refused form keeps what was
typed and writes nothing; the preview renders sanitised Markdown."""

from __future__ import annotations

from tests.web.test_settings import open_as
from tests.web.test_views import csrf_of


def article_form(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf": csrf, "language": "en", "title": "Opening hours", "body": "We open at **9**.",
        "status": "published", "category": "General", "tags": "hours, open, hours",
        "questions": "When are you open?\n\n  Are you open on Sunday?  ", **changes,
    }  # fmt: skip


async def create(client, cast, **changes: str) -> str:  # type: ignore[no-untyped-def]
    html = await open_as(client, cast.ada, "/settings/knowledge/new")
    response = await client.post(
        "/settings/knowledge/new", data=article_form(csrf_of(html), **changes)
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"]).split("?")[0]


async def test_only_admins_author(client, cast):
    await open_as(client, cast.alice, "/")
    for path in ("/settings/knowledge", "/settings/knowledge/new"):
        assert (await client.get(path)).status_code == 403


async def test_admin_creates_edits_and_translates(client, cast):
    url = await create(client, cast)
    article_id = int(url.rsplit("/", 1)[1])
    read = (await client.get(f"/api/v1/kb/articles/{article_id}", headers=cast.ada.headers)).json()
    assert (read["title"], read["status"], read["category"]) == (
        "Opening hours",
        "published",
        "General",
    )
    assert read["tags"] == ["hours", "open"]
    assert read["questions"] == ["When are you open?", "Are you open on Sunday?"]

    page = await client.get(url)
    csrf = csrf_of(page.text)
    translated = await client.post(
        f"{url}/translations",
        data={"csrf": csrf, "language": "fa", "title": "ساعت کاری", "body": "ساعت ۹ باز می‌کنیم.",
              "questions": "کی باز هستید؟"},
    )  # fmt: skip
    assert translated.status_code == 303
    form = await client.get(f"{url}/translations?language=fa")
    assert (
        'id="fd-kb-title" name="title" value="ساعت کاری" required maxlength="300" dir="rtl"'
        in form.text
    )
    assert 'data-testid="fd-kb-stale"' not in form.text

    edited = await client.post(url, data=article_form(csrf, body="We open at **10** now."))
    assert edited.status_code == 303
    page = await client.get(url)
    assert 'data-testid="fd-kb-stale"' in page.text  # the Persian text is now stale
    listing = await client.get("/settings/knowledge")
    assert listing.text.count('data-testid="fd-kb-stale"') == 1
    assert 'data-testid="fd-kb-stale"' in (await client.get(f"{url}/translations?language=fa")).text


async def test_a_refused_form_keeps_the_text_and_writes_nothing(client, cast):
    html = await open_as(client, cast.ada, "/settings/knowledge/new")
    response = await client.post(
        "/settings/knowledge/new",
        data=article_form(csrf_of(html), title="", body="Kept **body**", language="not a tag"),
    )
    assert response.status_code == 422
    assert 'data-testid="fd-kb-error"' in response.text
    assert "Kept **body**" in response.text
    assert 'aria-invalid="true" aria-describedby="fd-kb-title-error"' in response.text
    listed = await client.get("/api/v1/kb/articles", headers=cast.ada.headers)
    assert listed.json()["items"] == []


async def test_preview_renders_sanitised_markdown(client, cast):
    html = await open_as(client, cast.ada, "/settings/knowledge/new")
    response = await client.post(
        "/settings/knowledge/preview",
        data={"csrf": csrf_of(html), "language": "fa", "body": "**پررنگ** <script>x()</script>"},
    )
    assert response.status_code == 200
    assert "<strong>پررنگ</strong>" in response.text
    assert "<script>" not in response.text
    assert 'lang="fa" dir="rtl"' in response.text


async def test_questions_we_do_not_answer(client, cast):
    # Settings → Knowledge base → Questions we do not answer: add some (one a line, the
    # same wording twice stored once), see them, forget one; a refused form writes nothing.
    html = await open_as(client, cast.ada, "/settings/knowledge")
    assert 'href="/settings/knowledge/out-of-scope"' in html
    page = await client.get("/settings/knowledge/out-of-scope")
    assert page.status_code == 200 and 'data-testid="fd-oos-empty"' in page.text
    csrf = csrf_of(page.text)
    lines = "Do you sell cars?\n\ndo you sell cars\nWeather?"
    added = await client.post(
        "/settings/knowledge/out-of-scope",
        data={"csrf": csrf, "language": "en", "questions": lines},
    )
    assert added.status_code == 303
    page = await client.get(added.headers["location"])
    assert page.text.count('data-testid="fd-oos-row"') == 2
    assert 'data-testid="fd-oos-saved"' in page.text
    refused = await client.post(
        "/settings/knowledge/out-of-scope", data={"csrf": csrf, "language": "??", "questions": "x"}
    )
    assert refused.status_code == 422 and 'data-testid="fd-oos-error"' in refused.text
    listed = await client.get("/api/v1/kb/out-of-scope", headers=cast.ada.headers)
    first = listed.json()["items"][0]["id"]
    deleted = await client.post(
        f"/settings/knowledge/out-of-scope/{first}/delete", data={"csrf": csrf}
    )
    assert deleted.status_code == 303
    page = await client.get(deleted.headers["location"])
    assert page.text.count('data-testid="fd-oos-row"') == 1 and "Weather?" in page.text


async def test_questions_we_do_not_answer_only_admins_and_in_persian(client, cast):
    await open_as(client, cast.alice, "/")
    assert (await client.get("/settings/knowledge/out-of-scope")).status_code == 403
    home = await open_as(client, cast.ada, "/")
    await client.post("/me/language", data={"language": "fa", "csrf": csrf_of(home)})
    page = await client.get("/settings/knowledge/out-of-scope")
    assert '<html lang="fa" dir="rtl">' in page.text
    assert "پرسش‌هایی که پاسخ نمی‌دهیم" in page.text
