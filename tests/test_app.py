"""No bad input gets a 500: ids outside the id range, NUL characters, JSON nested 100,000
levels deep, unreadable bodies and unknown fields all get the one validation error (422
"invalid"), on every route, and the app's routes are built so that it stays that way."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from fastapi.routing import APIRoute

from frontdesk.app import API, create_app
from frontdesk.kit import gcfreeze
from frontdesk.kit.openapi import api_routes
from frontdesk.kit.pagination import encode_cursor
from frontdesk.kit.schemas import MAX_ID
from tests.conftest import inbound_payload, post_inbound
from tests.helpers import make_chat, visitor_token

DEEP = "[" * 100_000 + "]" * 100_000
# Integer parameters that are not row ids (clamped, never looked up).
NOT_IDS = {"limit"}


def invalid(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "invalid", error
    return error


async def a_conversation(client, cast) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, cast.website, inbound_payload("x-1", "layla@example.com"))
    assert response.status_code == 202, response.text
    return dict(response.json())


class TestIds:
    @pytest.mark.parametrize("value", [2**31, 2**63, 2**63 + 1, 2**64 * 10, 0])
    async def test_outside_the_id_range_in_a_path(self, client, cast, value):
        for path in (
            f"/api/v1/customers/{value}",
            f"/api/v1/conversations/{value}/messages",
            f"/api/v1/inboxes/{value}",
            f"/api/v1/agents/{value}",
        ):
            invalid(await client.get(path, headers=cast.ada.headers))

    async def test_outside_the_id_range_in_a_query(self, client, cast):
        for query in ("inbox_id", "assignee_id", "customer_id"):
            response = await client.get(
                f"/api/v1/conversations?{query}={2**63 + 1}", headers=cast.ada.headers
            )
            assert invalid(response)["details"][0]["loc"] == ["query", query]

    async def test_outside_the_id_range_in_a_body(self, client, cast):
        body = await a_conversation(client, cast)
        customer, conversation = body["customer_id"], body["conversation_id"]
        cases = [
            (f"/api/v1/customers/{customer}/merge", "post", {"other_id": 2**63 + 1}),
            (f"/api/v1/conversations/{conversation}", "patch", {"team_id": 2**31}),
            (f"/api/v1/conversations/{conversation}", "patch", {"assignee_id": 2**64}),
            ("/api/v1/teams", "post", {"name": "T", "agent_ids": [2**63]}),
            (f"/api/v1/conversations/{conversation}/messages", "post", {"attachment_ids": [2**40]}),
        ]
        for path, method, data in cases:
            invalid(await client.request(method, path, json=data, headers=cast.ada.headers))

    async def test_a_cursor_past_the_id_range(self, client, cast):
        cursor = encode_cursor(2**63 + 1)
        invalid_cursor = await client.get(
            f"/api/v1/conversations?cursor={cursor}", headers=cast.ada.headers
        )
        assert invalid(invalid_cursor)["details"][0]["loc"] == ["query", "cursor"]

    async def test_the_widget_and_the_desk_bound_ids_too(self, client, cast):
        invalid(await client.get(f"/widget/api/config?inbox={2**63}"))
        response = await client.post(
            "/widget/api/session", content=json.dumps({"inbox_id": 2**63 + 1})
        )
        invalid(response)
        assert response.headers["access-control-allow-origin"] == "*"

    def test_every_integer_parameter_of_every_route_is_a_bounded_id(self, app):
        for route in api_routes(app):
            params = [*route.dependant.path_params, *route.dependant.query_params]
            for child in route.dependant.dependencies:
                params += [*child.path_params, *child.query_params]
            for param in params:
                if param.field_info.annotation is not int or param.name in NOT_IDS:
                    continue
                limits = [getattr(m, "le", None) for m in param.field_info.metadata]
                assert any(le is not None and le <= MAX_ID for le in limits), (
                    f"{route.path_format}: {param.name} is not an Id"
                )


class TestBodies:
    async def test_unknown_fields_are_refused_by_name(self, client, cast):
        body = await a_conversation(client, cast)
        response = await client.patch(
            f"/api/v1/conversations/{body['conversation_id']}",
            json={"status": "pending", "colour": "red"},
            headers=cast.ada.headers,
        )
        error = invalid(response)
        assert error["details"][0]["loc"] == ["body", "colour"]
        assert "colour" in error["message"]

    async def test_unknown_settings_of_an_inbox_are_refused(self, client, cast):
        for body in (
            {"channel": "api", "name": "A", "settings": {"webhook": "https://x.example"}},
            {
                "channel": "email",
                "name": "E",
                "address": "help@example.com",
                "smtp": {"host": "127.0.0.1", "port": 25, "colour": "red"},
            },
        ):
            response = await client.post("/api/v1/inboxes", json=body, headers=cast.ada.headers)
            assert invalid(response)["details"][0]["loc"][-1] in {"webhook", "colour"}

    async def test_unknown_fields_are_refused_on_the_signed_inbound(self, client, cast):
        payload = inbound_payload("u-1", "layla@example.com", priority="high")
        error = invalid(await post_inbound(client, cast.website, payload))
        assert error["details"][0]["loc"] == ["body", "priority"]

    async def test_the_widget_refuses_unknown_fields_by_name(self, client, cast, runtime):
        chat = await make_chat(runtime, cast)
        for path, body in (
            ("/widget/api/session", {"inbox_id": chat.id, "colour": "red"}),
            ("/widget/api/transcript", {"id": "abcdefgh", "colour": "red"}),
            ("/widget/api/email", {"id": "abcdefgh", "email": "a@b.example", "colour": "red"}),
        ):
            error = invalid(await client.post(path, content=json.dumps(body)))
            assert error["details"][0]["loc"] == ["body", "colour"], path

    async def test_patching_an_inbox_takes_the_smtp_block_of_the_create_route(self, client, cast):
        created = await client.post(
            "/api/v1/inboxes",
            json={"channel": "email", "name": "E", "address": "help@example.com"},
            headers=cast.ada.headers,
        )
        assert created.status_code == 201, created.text
        inbox_id = created.json()["id"]
        relay = {"host": "127.0.0.1", "port": 2525, "security": "none", "password": "pw-1"}
        response = await client.patch(
            f"/api/v1/inboxes/{inbox_id}", json={"smtp": relay}, headers=cast.ada.headers
        )
        assert response.status_code == 200, response.text
        shown = (await client.get(f"/api/v1/inboxes/{inbox_id}", headers=cast.ada.headers)).json()
        assert shown["settings"]["smtp"]["host"] == "127.0.0.1"
        assert shown["settings"]["smtp"]["port"] == 2525
        assert shown["settings"]["smtp"]["password"] != "pw-1"  # write-only, masked

    async def test_a_channel_without_a_relay_refuses_the_smtp_block_by_name(self, client, cast):
        response = await client.patch(
            f"/api/v1/inboxes/{cast.website.id}",
            json={"smtp": {"host": "127.0.0.1", "port": 25}},
            headers=cast.ada.headers,
        )
        assert "smtp" in invalid(response)["message"]

    def test_every_body_under_api_v1_refuses_unknown_fields(self, app):
        document = app.openapi()
        schemas = document["components"]["schemas"]
        checked = 0
        for path, operations in document["paths"].items():
            for operation in operations.values():
                content = operation.get("requestBody", {}).get("content", {})
                schema = content.get("application/json", {}).get("schema")
                if not path.startswith("/api/v1/") or schema is None:
                    continue
                name = schema["$ref"].rsplit("/", 1)[-1]
                assert schemas[name].get("additionalProperties") is False, name
                checked += 1
        assert checked >= 12

    async def test_a_nul_in_a_body_or_a_url_is_refused(self, client, cast):
        invalid(
            await client.post("/api/v1/teams", json={"name": "a\x00b"}, headers=cast.ada.headers)
        )
        invalid(await client.get("/api/v1/conversations?status=%00", headers=cast.ada.headers))
        invalid(await client.get("/api/v1/customers?identity=a%00b", headers=cast.ada.headers))

    async def test_a_mail_without_sender_on_the_http_inbound_is_refused(self, client, cast):
        created = await client.post(
            "/api/v1/inboxes",
            json={"channel": "email", "name": "Mail", "address": "help@frontdesk.test"},
            headers=cast.ada.headers,
        )
        response = await client.post(
            f"/api/v1/inboxes/{created.json()['id']}/inbound",
            content=b"Subject: no sender\r\n\r\nbody\r\n",
            headers={"content-type": "message/rfc822"},
        )
        # Refused for good, whatever refuses it (the mail, or a credential the route needs).
        assert 400 <= response.status_code < 500, response.text

    async def test_a_body_that_is_not_utf8_json(self, client, cast):
        response = await client.post(
            "/api/v1/teams",
            content=b'{"name": "\xff\xfe"}',
            headers={**cast.ada.headers, "content-type": "application/json"},
        )
        invalid(response)

    async def test_a_broken_multipart_body(self, client, cast):
        body = await a_conversation(client, cast)
        response = await client.post(
            f"/api/v1/conversations/{body['conversation_id']}/uploads",
            content=b"--b\r\nTrue--b--\r\n",
            headers={**cast.ada.headers, "content-type": "multipart/form-data; boundary=b"},
        )
        invalid(response)


class TestNesting:
    """Python's JSON parser recurses per level: 100,000 levels used to be a RecursionError."""

    async def test_an_api_body(self, client, cast):
        body = await a_conversation(client, cast)
        response = await client.patch(
            f"/api/v1/customers/{body['customer_id']}",
            content=f'{{"attributes": {{"x": {DEEP}}}}}',
            headers={**cast.ada.headers, "content-type": "application/json"},
        )
        assert "deeper" in invalid(response)["message"]

    async def test_the_signed_inbound(self, client, cast):
        invalid(await post_inbound(client, cast.website, DEEP.encode()))

    async def test_a_body_without_content_type(self, client, cast):
        invalid(await client.post("/api/v1/teams", content=DEEP, headers=cast.ada.headers))

    async def test_depth_that_requests_need_still_passes(self, client, cast):
        body = await a_conversation(client, cast)
        nested: Any = "leaf"
        for _ in range(40):
            nested = {"n": nested}
        response = await client.patch(
            f"/api/v1/customers/{body['customer_id']}",
            json={"attributes": nested},
            headers=cast.ada.headers,
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "path", ["/widget/api/session", "/widget/api/email", "/widget/api/transcript"]
    )
    async def test_unauthenticated_widget_routes(self, client, cast, runtime, path):
        await make_chat(runtime, cast)
        response = await client.post(path, content=DEEP)
        invalid(response)
        assert response.headers["access-control-allow-origin"] == "*"


class TestWidgetBodies:
    @pytest.mark.parametrize("path", ["/widget/api/email", "/widget/api/transcript"])
    @pytest.mark.parametrize(
        "body", [b"not json", b"[1, 2]", b'"token"', b"", b'{"token": 5}', b"\xff\xfe"]
    )
    async def test_non_json_or_wrong_shape(self, client, cast, runtime, path, body):
        chat = await make_chat(runtime, cast)
        await visitor_token(client, chat)
        response = await client.post(path, content=body)
        invalid(response)
        assert response.headers["access-control-allow-origin"] == "*"


class TestProviderWebhooks:
    """The providers' webhooks are found on a short list of their own, ahead of the route
    table, and answered as before: inside the middleware and the error handlers."""

    async def test_a_webhook_reaches_its_endpoint_through_the_error_handlers(self, client):
        response = await client.post(f"/webhooks/voice/{MAX_ID}/status", content=b"")
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unknown_inbox"

    async def test_what_the_webhooks_do_not_take_goes_on_to_the_router(self, client):
        wrong_method = await client.get("/webhooks/voice/1/status")
        assert wrong_method.status_code == 405, wrong_method.text
        unknown = await client.post("/webhooks/nothing/1", content=b"")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "not_found"

    async def test_a_webhook_is_counted_under_its_route(self, client, cast):
        await client.post(f"/webhooks/sms/{MAX_ID}/status", content=b"")
        metrics = await client.get("/metrics", headers=cast.ada.headers)
        assert 'route="/webhooks/sms/{inbox_id}/status"' in metrics.text

    def test_every_webhook_route_is_on_the_list(self, app):
        listed = {(route.path, frozenset(route.methods)) for route in app.provider_webhooks}
        served = {
            (route.path_format, frozenset(route.methods))
            for route in api_routes(app)
            if route.path_format.startswith("/webhooks/")
        }
        assert served and listed == served


class TestDispatch:
    """A path outside the API is matched only against the routes that can take it, not first
    against the JSON API's ~300 (app.Dispatch); what none takes is answered as before."""

    @pytest.fixture
    def tried(self, monkeypatch) -> list[APIRoute]:  # type: ignore[no-untyped-def]
        """The routes a request was matched against (FastAPI's route class)."""
        seen: list[APIRoute] = []
        matches = APIRoute.matches

        def counted(route: APIRoute, scope: Any) -> Any:
            seen.append(route)
            return matches(route, scope)

        monkeypatch.setattr(APIRoute, "matches", counted)
        return seen

    @staticmethod
    def of_api(app) -> set[int]:  # type: ignore[no-untyped-def]
        """The routes served under /api/v1 only (FastAPI's own objects: their `path` lacks
        the prefix, their context's path_format has it)."""
        under, elsewhere = set(), set()
        for route in api_routes(app):
            original = id(getattr(route, "original_route", route))
            (under if route.path_format.startswith(API) else elsewhere).add(original)
        assert len(under) > 100
        return under - elsewhere

    async def test_a_page_is_not_matched_against_the_api_routes(self, app, client, tried):
        api = self.of_api(app)
        for path in ("/login", "/healthz"):
            tried.clear()
            assert (await client.get(path)).status_code == 200
            assert tried and not [route for route in tried if id(route) in api], path

    async def test_the_api_is_matched_as_before(self, app, client, cast, tried):
        response = await client.get("/api/v1/inboxes", headers=cast.ada.headers)
        assert response.status_code == 200
        assert [route for route in tried if id(route) in self.of_api(app)]

    async def test_the_signed_inbound_route_skips_the_api_routes(self, app, client, tried):
        # Every API-channel message comes through POST /api/v1/inboxes/{id}/inbound: it is
        # found on a short list of its own and answered as the included route answers.
        api = self.of_api(app)
        response = await client.post(f"/api/v1/inboxes/{MAX_ID}/inbound", content=b"{}")
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unknown_inbox"
        assert tried and not [route for route in tried if id(route) in api]
        # Another method on the same path still goes to the router (405, as before).
        assert (await client.get(f"/api/v1/inboxes/{MAX_ID}/inbound")).status_code == 405

    def test_the_inbound_list_is_the_channels_dependency_free_api_routes(self, app):
        listed = {(route.path, frozenset(route.methods)) for route in app.provider_inbound}
        assert ("/api/v1/inboxes/{inbox_id}/inbound", frozenset({"POST"})) in listed
        served = {(route.path_format, frozenset(route.methods)) for route in api_routes(app)}
        assert listed <= served

    async def test_the_inbound_route_is_counted_under_its_path(self, client, cast):
        await client.post(f"/api/v1/inboxes/{MAX_ID}/inbound", content=b"{}")
        metrics = await client.get("/metrics", headers=cast.ada.headers)
        assert 'route="/api/v1/inboxes/{inbox_id}/inbound"' in metrics.text

    async def test_what_no_route_takes_gets_the_same_answers(self, client):
        page = await client.get("/no-such-page", headers={"accept": "text/html"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        api = await client.get("/api/v1/no-such-thing")
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        wrong_method = await client.delete("/healthz")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["code"] == "method_not_allowed"


class TestStartUp:
    """The app's start-up (its lifespan, as `frontdesk serve` runs it) collects once, freezes
    what the process keeps and raises the collector's thresholds (kit/gcfreeze.py)."""

    async def test_freezes_the_heap_and_raises_the_thresholds(self, settings, runtime):
        app = create_app(settings, runtime=runtime)
        before = gc.get_threshold()
        gc.unfreeze()
        try:
            async with app.router.lifespan_context(app):
                assert gc.get_threshold() == gcfreeze.THRESHOLDS
                assert gc.get_freeze_count() > 10_000  # modules, the app, its route table
                assert gc.get_count()[0] < 10_000
        finally:
            gc.set_threshold(*before)
            gc.unfreeze()

    async def test_not_when_the_freezing_is_turned_off(self, settings, runtime):
        settings.gc_freeze_seconds = 0
        app = create_app(settings, runtime=runtime)
        before = gc.get_threshold()
        gc.unfreeze()
        try:
            async with app.router.lifespan_context(app):
                assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        finally:
            gc.set_threshold(*before)
