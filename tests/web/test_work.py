"""My work (the desktop's task list) and Settings → Routing: an agent sees only the tasks of
their queues and their own, filters live in the URL, the actions move tasks as the API's
do, work items are made from the page; routing settings are for admins, and an expression's
syntax error is shown at its position."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from frontdesk.kit.i18n import translator
from tests.conftest import Cast
from tests.routing.test_views import set_worker
from tests.web.test_views import csrf_of, log_in


async def make_queue(client: httpx.AsyncClient, cast: Cast, name: str, team: str) -> int:
    answer = await client.post(
        "/api/v1/routing/queues",
        json={"name": name, "agent_expression": f"teams HAS '{team}'"},
        headers=cast.ada.headers,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def work_item(client: httpx.AsyncClient, cast: Cast, queue_id: int, type: str) -> int:
    answer = await client.post(
        "/api/v1/tasks", json={"type": type, "queue_id": queue_id}, headers=cast.ada.headers
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def task(client: httpx.AsyncClient, cast: Cast, task_id: int) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/tasks/{task_id}", headers=cast.ada.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def page(client: httpx.AsyncClient, path: str = "/work") -> str:
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    return str(answer.text)


class TestMyWork:
    async def test_an_agent_sees_only_their_queues_and_filters_stay_in_the_url(self, client, cast):
        support = await make_queue(client, cast, "Support", "Support")
        billing = await make_queue(client, cast, "Billing", "Billing")
        mine = await work_item(client, cast, support, "call back Layla")
        theirs = await work_item(client, cast, billing, "refund order 77")
        await log_in(client, cast.alice)
        html = await page(client)
        assert 'data-testid="fd-nav-work"' in html
        assert f'data-task-id="{mine}"' in html and "call back Layla" in html
        assert f'data-task-id="{theirs}"' not in html and "refund order 77" not in html
        # Another queue's number in the URL shows nothing rather than its tasks.
        assert f'data-task-id="{theirs}"' not in await page(client, f"/work?queue={billing}")
        filtered = await page(client, "/work?kind=conversation&channel=backoffice")
        assert 'data-testid="fd-work-empty"' in filtered
        assert 'value="conversation" selected' in filtered
        rows = await page(client, f"/work/rows?queue={support}&kind=work_item")
        assert f'data-task-id="{mine}"' in rows
        # A supervisor sees every queue, in priority order.
        await log_in(client, cast.sara)
        html = await page(client)
        assert html.index(f'data-task-id="{mine}"') < html.index(f'data-task-id="{theirs}"')

    async def test_accept_transfer_complete_and_reject(self, client, cast):
        support = await make_queue(client, cast, "Support", "Support")
        billing = await make_queue(client, cast, "Billing", "Billing")
        await log_in(client, cast.alice)
        await set_worker(client, cast, cast.alice.id, capacity={"backoffice": 1})
        first = await work_item(client, cast, support, "check the invoice")
        assert (await task(client, cast, first))["status"] == "offered"
        html = await page(client)
        csrf = csrf_of(html)
        assert 'data-testid="fd-task-accept"' in html
        back = f"queue={support}"
        done = await client.post(f"/work/tasks/{first}/accept", data={"csrf": csrf, "back": back})
        assert done.status_code == 303
        assert done.headers["location"] == f"/work?queue={support}&notice=accept"
        assert (await task(client, cast, first))["status"] == "assigned"
        # Transfer to the Billing queue: it waits there (Alice no longer holds it).
        moved = await client.post(
            f"/work/tasks/{first}/transfer", data={"csrf": csrf, "to": f"queue:{billing}"}
        )
        assert moved.headers["location"] == "/work?notice=transferred"
        after = await task(client, cast, first)
        assert (after["status"], after["queue_id"], after["assignee_id"]) == (
            "waiting", billing, None
        )  # fmt: skip
        # Not hers any more (nor her queue): she cannot even see it, nothing changes.
        refused = await client.post(f"/work/tasks/{first}/complete", data={"csrf": csrf})
        assert refused.status_code == 404
        assert (await task(client, cast, first))["status"] == "waiting"
        second = await work_item(client, cast, support, "post the letter")
        assert (await task(client, cast, second))["status"] == "offered"
        await client.post(f"/work/tasks/{second}/accept", data={"csrf": csrf})
        completed = await client.post(f"/work/tasks/{second}/complete", data={"csrf": csrf})
        assert completed.headers["location"] == "/work?notice=complete"
        assert (await task(client, cast, second))["status"] == "completed"
        third = await work_item(client, cast, support, "ring the bank")
        rejected = await client.post(f"/work/tasks/{third}/reject", data={"csrf": csrf})
        assert rejected.headers["location"] == "/work?notice=reject"
        assert (await task(client, cast, third))["status"] == "waiting"
        # A second answer to an ended offer says why instead of failing.
        again = await client.post(f"/work/tasks/{third}/accept", data={"csrf": csrf})
        assert again.headers["location"] == "/work?error=not_offered"
        html = await page(client, "/work?error=not_offered")
        assert 'data-code="not_offered"' in html

    async def test_pick_with_nothing_waiting_and_a_form_without_its_token(self, client, cast):
        await log_in(client, cast.alice)
        await set_worker(client, cast, cast.alice.id, capacity={"backoffice": 1})
        csrf = csrf_of(await page(client))
        picked = await client.post("/work/next", data={"csrf": csrf, "back": "kind=work_item"})
        assert picked.headers["location"] == "/work?kind=work_item&notice=nothing"
        assert (await client.post("/work/next", data={"csrf": "x"})).status_code == 401

    async def test_a_work_item_made_from_the_page(self, client, cast):
        support = await make_queue(client, cast, "Support", "Support")
        created = await client.post(
            "/api/v1/routing/policies",
            json={"name": "All", "targets": [{"queue_id": support}]},
            headers=cast.ada.headers,
        )
        assert created.status_code == 201, created.text
        await log_in(client, cast.alice)
        csrf = csrf_of(await page(client))
        made = await client.post(
            "/work/items",
            data={"csrf": csrf, "type": "process refund", "description": "order 12",
                  "due_at": "2030-01-02T09:30", "customer_id": "", "conversation_id": ""},
        )  # fmt: skip
        assert made.headers["location"] == "/work?notice=created"
        html = await page(client)
        assert "process refund" in html and "order 12" in html
        items = (await client.get("/api/v1/tasks", headers=cast.ada.headers)).json()["items"]
        item = next(i for i in items if i["type"] == "process refund")
        assert item["kind"] == "work_item" and item["queue_id"] == support
        assert item["due_at"].startswith("2030-01-02T09:30")
        bad = await client.post("/work/items", data={"csrf": csrf, "type": " ", "customer_id": "x"})
        assert bad.headers["location"] == "/work?error=invalid"
        # A due time at the very start of the calendar is a typo: refused, as by the API.
        early = await client.post(
            "/work/items", data={"csrf": csrf, "type": "ancient", "due_at": "0001-01-01T00:05"}
        )
        assert early.headers["location"] == "/work?error=invalid"
        assert "ancient" not in await page(client)


class TestRoutingSettings:
    @pytest.mark.parametrize("who", ["alice", "sara"])
    async def test_only_admins(self, client, cast, who):
        await log_in(client, getattr(cast, who))
        for path in ("queues", "policies", "agents", "presence"):
            assert (await client.get(f"/settings/routing/{path}")).status_code == 403
        csrf = csrf_of(await page(client))
        posted = await client.post("/settings/routing/queues", data={"csrf": csrf, "name": "Mine"})
        assert posted.status_code == 403
        answer = await client.get("/api/v1/routing/queues", headers=cast.ada.headers)
        assert answer.json() == []

    async def test_queue_with_a_syntax_error_then_fixed(self, client, cast):
        await log_in(client, cast.ada)
        html = await page(client, "/settings")
        assert 'data-testid="fd-settings-routing"' in html
        csrf = csrf_of(await page(client, "/settings/routing/queues"))
        broken = await client.post(
            "/settings/routing/queues",
            data={"csrf": csrf, "name": "Arabic billing", "agent_expression": "skills HAS"},
        )
        assert broken.status_code == 422
        assert 'data-position="10"' in broken.text and 'dir="ltr"' in broken.text
        assert 'value="Arabic billing"' in broken.text  # nothing typed is lost
        fixed = await client.post(
            "/settings/routing/queues",
            data={"csrf": csrf, "name": "Arabic billing",
                  "agent_expression": "skills HAS 'billing' AND languages HAS 'ar'"},
        )  # fmt: skip
        assert fixed.status_code == 303
        queues = (await client.get("/api/v1/routing/queues", headers=cast.ada.headers)).json()
        assert [q["name"] for q in queues] == ["Arabic billing"]
        edited = await client.post(
            "/settings/routing/queues",
            data={"csrf": csrf, "id": str(queues[0]["id"]), "name": "Billing AR",
                  "agent_expression": "TRUE"},
        )  # fmt: skip
        assert edited.status_code == 303
        assert "Billing AR" in await page(client, "/settings/routing/queues")

    async def test_policy_with_ordered_targets(self, client, cast):
        first = await make_queue(client, cast, "Sticky", "Support")
        second = await make_queue(client, cast, "Anyone", "Support")
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/settings/routing/policies"))
        form = {
            "csrf": csrf, "name": "VIP", "position": "5", "task_expression": "value >= 1000",
            "t0.queue_id": str(first), "t0.agent_expression": "id == task.last_agent_id",
            "t0.timeout_seconds": "60", "t1.queue_id": str(second), "t1.priority_boost": "2",
        }  # fmt: skip
        bad = await client.post(
            "/settings/routing/policies", data={**form, "t1.agent_expression": "tier IN ["}
        )
        assert bad.status_code == 422 and 'data-testid="fd-expr-error"' in bad.text
        saved = await client.post("/settings/routing/policies", data=form)
        assert saved.status_code == 303, saved.text
        policies = (await client.get("/api/v1/routing/policies", headers=cast.ada.headers)).json()
        assert policies[0]["position"] == 5
        assert policies[0]["targets"] == [
            {"queue_id": first, "agent_expression": "id == task.last_agent_id",
             "timeout_seconds": 60, "priority_boost": 0},
            {"queue_id": second, "priority_boost": 2},
        ]  # fmt: skip

    async def test_presence_rule_on_with_limits_per_call_channel(self, client, cast):
        await log_in(client, cast.ada)
        html = await page(client, "/settings/routing/presence")
        assert 'data-testid="fd-routing-presence"' in html  # in the routing settings' links
        assert 'data-testid="fd-presence-rule-enabled">' in html  # off until switched on
        csrf = csrf_of(html)
        refused = await client.post(
            "/settings/routing/presence",
            data={"csrf": csrf, "enabled": "1", "acw_voice": "9999", "acw_cti": "20"},
        )
        assert refused.status_code == 422
        assert 'data-testid="fd-presence-rule-problem"' in refused.text
        assert 'value="9999"' in refused.text and 'value="20"' in refused.text  # kept as typed
        saved = await client.post(
            "/settings/routing/presence",
            data={"csrf": csrf, "enabled": "1", "acw_voice": "0", "acw_cti": "20"},
        )
        assert saved.status_code == 303
        assert 'data-testid="fd-presence-rule-saved"' in await page(
            client, saved.headers["location"]
        )
        rule = await client.get("/api/v1/routing/presence-rule", headers=cast.ada.headers)
        assert rule.json() == {"enabled": True, "acw_seconds": {"voice": 0, "cti": 20}}
        off = await client.post(
            "/settings/routing/presence", data={"csrf": csrf, "acw_voice": "0", "acw_cti": "20"}
        )
        assert off.status_code == 303
        rule = await client.get("/api/v1/routing/presence-rule", headers=cast.ada.headers)
        assert rule.json()["enabled"] is False

    async def test_presence_rule_page_in_arabic(self, client, cast):
        await client.patch(
            f"/api/v1/agents/{cast.ada.id}", json={"language": "ar"}, headers=cast.ada.headers
        )
        await log_in(client, cast.ada)
        html = await page(client, "/settings/routing/presence")
        assert translator("ar")("Set agents' presence from their calls") in html
        assert translator("ar")("Phone system (CTI)") in html

    async def test_agent_attributes(self, client, cast):
        await log_in(client, cast.ada)
        html = await page(client, f"/settings/routing/agents?agent={cast.alice.id}")
        csrf = csrf_of(html)
        saved = await client.post(
            f"/settings/routing/agents/{cast.alice.id}",
            data={"csrf": csrf, "skills": "billing:4, refunds:2", "languages": "ar, en",
                  "tier": "L2", "capacity": "webchat:3, backoffice:2, *:4"},
        )  # fmt: skip
        assert saved.status_code == 303
        worker = (
            await client.get(f"/api/v1/routing/agents/{cast.alice.id}", headers=cast.ada.headers)
        ).json()
        assert worker["skills"] == {"billing": 4, "refunds": 2}
        assert worker["languages"] == ["ar", "en"] and worker["tier"] == "L2"
        assert worker["capacity"] == {"webchat": 3, "backoffice": 2, "*": 4}
        refused = await client.post(
            f"/settings/routing/agents/{cast.alice.id}",
            data={"csrf": csrf, "skills": "billing", "languages": "", "tier": "L2",
                  "capacity": ""},
        )  # fmt: skip
        assert refused.status_code == 422 and 'value="billing"' in refused.text
        worker = (
            await client.get(f"/api/v1/routing/agents/{cast.alice.id}", headers=cast.ada.headers)
        ).json()
        assert worker["skills"] == {"billing": 4, "refunds": 2}


class TestRightToLeft:
    async def test_pages_in_persian_keep_expressions_left_to_right(self, client, cast):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client))
        switched = await client.post("/me/language", data={"csrf": csrf, "language": "fa"})
        assert switched.status_code == 303
        await make_queue(client, cast, "Support", "Support")
        html = await page(client, "/settings/routing/queues")
        fa = translator("fa")
        assert 'dir="rtl"' in html and fa("Queues") in html and fa("Queues") != "Queues"
        assert "<code dir=\"ltr\">teams HAS 'Support'</code>" in html.replace("&#39;", "'")
        work = await page(client)
        assert fa("My work") in work and "{seconds}" in work  # the countdown's template
