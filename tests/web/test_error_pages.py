"""People get HTML error pages in their language; machines keep the JSON error body; the API
reference at /docs needs nothing from the internet."""

from __future__ import annotations

import re

from tests.web.test_views import log_in

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class TestHtmlErrorPages:
    async def test_an_unknown_page_is_an_html_404_in_the_agents_language(self, client, cast):
        await client.patch(
            f"/api/v1/agents/{cast.alice.id}", json={"language": "fa"}, headers=cast.ada.headers
        )
        await log_in(client, cast.alice)
        response = await client.get("/no/such/page", headers=BROWSER)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert '<html lang="fa" dir="rtl">' in response.text
        assert 'data-testid="fd-error-page" data-status="404"' in response.text
        assert "صفحه پیدا نشد" in response.text
        assert "content-security-policy" in response.headers

    async def test_a_conversation_out_of_reach_is_an_html_404(self, client, cast):
        await log_in(client, cast.alice)
        response = await client.get("/conversations/2000000", headers=BROWSER)
        assert response.status_code == 404
        assert 'data-testid="fd-error-page"' in response.text
        assert '<html lang="en" dir="ltr">' in response.text

    async def test_logged_out_visitors_get_an_english_page_with_a_login_link(self, client):
        response = await client.get("/no/such/page", headers=BROWSER)
        assert response.status_code == 404
        assert re.search(r'data-testid="fd-error-home">Log in<', response.text)

    async def test_the_api_and_scripts_keep_json(self, client, cast):
        for path, headers in (
            ("/api/v1/nothing", BROWSER),
            ("/api/v1/conversations/2000000", {**BROWSER, **cast.ada.headers}),
            ("/no/such/page", {"accept": "application/json"}),
            ("/no/such/page", {**BROWSER, "hx-request": "true"}),
        ):
            response = await client.get(path, headers=headers)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "not_found", path


class TestApiDocs:
    async def test_docs_load_swagger_ui_from_the_package(self, client):
        page = await client.get("/docs")
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith(("/", "data:")) for s in sources), sources
        assert "cdn." not in page.text and "https://" not in page.text
        parts = [url for url in sources if url.startswith("/docs?part=")]
        assert parts, "the page links the API's parts"
        for url in sources:
            if url in parts:
                # each part is the same offline page, drawing one part of the API
                served = await client.get(url.replace("&amp;", "&"))
                assert served.status_code == 200 and "SwaggerUIBundle" in served.text, url
            elif url.startswith("/"):
                served = await client.get(url)
                assert served.status_code == 200 and len(served.content) > 10_000, url

    async def test_the_licence_and_notice_are_served_with_it(self, client):
        notice = await client.get("/static/swagger-ui/NOTICE")
        assert "SmartBear" in notice.text
        licence = await client.get("/static/swagger-ui/LICENSE")
        assert "Apache License" in licence.text

    async def test_only_listed_static_files_are_served(self, client):
        for path in ("/static/../app.py", "/static/swagger-ui/../../views.py", "/static/x.css"):
            assert (await client.get(path)).status_code == 404, path
