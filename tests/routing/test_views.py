"""Routing over HTTP: queues, policies, workers, and the task list from inbound to done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from frontdesk.kit.events import Event
from frontdesk.runtime import Runtime
from tests.conftest import Cast, inbound_payload, post_inbound, run_jobs


async def setup_support(client: httpx.AsyncClient, cast: Cast, **policy: Any) -> int:
    """A Support queue (the Support team) that every task goes to; Alice available for one."""
    queue = await client.post(
        "/api/v1/routing/queues",
        json={"name": "Support", "agent_expression": "teams HAS 'Support'"},
        headers=cast.ada.headers,
    )
    assert queue.status_code == 201, queue.text
    queue_id = int(queue.json()["id"])
    created = await client.post(
        "/api/v1/routing/policies",
        json={"name": "Everything", "targets": [{"queue_id": queue_id}], **policy},
        headers=cast.ada.headers,
    )
    assert created.status_code == 201, created.text
    await set_worker(client, cast, cast.alice.id, capacity={"api": 1, "backoffice": 1})
    return queue_id


async def set_worker(client: httpx.AsyncClient, cast: Cast, agent_id: int, **fields: Any) -> dict:
    answer = await client.patch(
        f"/api/v1/routing/agents/{agent_id}",
        json={"presence": "available", **fields},
        headers=cast.ada.headers,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def customer_writes(client: httpx.AsyncClient, cast: Cast, runtime: Runtime, n: int) -> int:
    answer = await post_inbound(
        client, cast.website, inbound_payload(f"m{n}", f"customer{n}@example.com", "help")
    )
    assert answer.status_code == 202, answer.text
    await run_jobs(runtime)
    return int(answer.json()["conversation_id"])


async def tasks(client: httpx.AsyncClient, person: Any, **params: Any) -> list[dict]:
    answer = await client.get("/api/v1/tasks", params=params, headers=person.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


class TestSetup:
    async def test_a_bad_expression_is_refused_with_its_position(self, client, cast):
        answer = await client.post(
            "/api/v1/routing/queues",
            json={"name": "Broken", "agent_expression": "skills HAS"},
            headers=cast.ada.headers,
        )
        assert answer.status_code == 422
        assert "position 10" in answer.json()["error"]["message"]

    async def test_only_admins_set_queues_and_attributes(self, client, cast):
        answer = await client.post(
            "/api/v1/routing/queues", json={"name": "Mine"}, headers=cast.alice.headers
        )
        assert answer.status_code == 403
        answer = await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}",
            json={"skills": {"billing": 5}},
            headers=cast.alice.headers,
        )
        assert answer.status_code == 403

    async def test_an_agent_sets_their_own_presence(self, client, cast):
        answer = await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}",
            json={"presence": "after_call_work"},
            headers=cast.alice.headers,
        )
        assert answer.status_code == 200
        assert answer.json()["presence"] == "after_call_work"

    async def test_worker_attributes_and_capacity(self, client, cast):
        worker = await set_worker(
            client, cast, cast.bob.id, skills={"billing": 4}, languages=["ar"], tier="L2",
            capacity={"chat": 3, "email": 5, "*": 6}, reserved={"chat": 1},
        )  # fmt: skip
        assert worker["skills"] == {"billing": 4} and worker["teams"] == ["Billing"]
        assert worker["capacity"] == {"chat": 3, "email": 5, "*": 6}
        assert worker["active"] == {"chat": 0, "email": 0, "*": 0}

    async def test_a_policy_naming_a_missing_queue_is_refused(self, client, cast):
        answer = await client.post(
            "/api/v1/routing/policies",
            json={"name": "Lost", "targets": [{"queue_id": 999}]},
            headers=cast.ada.headers,
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "unknown_queue"


class TestConversationTasks:
    async def test_no_policy_no_task(self, client, cast, runtime):
        await customer_writes(client, cast, runtime, 1)
        assert await tasks(client, cast.ada) == []

    async def test_inbound_message_is_offered_accepted_and_assigns_the_conversation(
        self, client, cast, runtime
    ):
        await setup_support(client, cast)
        conversation = await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.alice, mine="true")
        assert task["conversation_id"] == conversation and task["status"] == "offered"
        accepted = await client.post(
            f"/api/v1/tasks/{task['id']}/accept", headers=cast.alice.headers
        )
        assert accepted.status_code == 200 and accepted.json()["status"] == "assigned"
        got = await client.get(f"/api/v1/conversations/{conversation}", headers=cast.alice.headers)
        assert got.json()["assignee_id"] == cast.alice.id
        async with runtime.db.session() as session:
            types = (
                await session.scalars(select(Event.type).where(Event.type.like("task.%")))
            ).all()
        assert list(types) == ["task.created", "task.offered", "task.accepted"]

    async def test_a_full_agent_leaves_the_next_waiting_until_they_finish(
        self, client, cast, runtime
    ):
        await setup_support(client, cast)
        await customer_writes(client, cast, runtime, 1)
        [first] = await tasks(client, cast.alice, mine="true")
        await client.post(f"/api/v1/tasks/{first['id']}/accept", headers=cast.alice.headers)
        await customer_writes(client, cast, runtime, 2)
        waiting = await tasks(client, cast.alice, status="waiting")
        assert len(waiting) == 1 and waiting[0]["position"] == 1
        done = await client.post(
            f"/api/v1/tasks/{first['id']}/complete", headers=cast.alice.headers
        )
        assert done.status_code == 200 and done.json()["status"] == "completed"
        [second] = await tasks(client, cast.alice, mine="true")
        assert second["id"] == waiting[0]["id"] and second["status"] == "offered"

    async def test_rejected_offer_waits_and_is_not_offered_again(self, client, cast, runtime):
        await setup_support(client, cast)
        await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.alice, mine="true")
        answer = await client.post(f"/api/v1/tasks/{task['id']}/reject", headers=cast.alice.headers)
        assert answer.status_code == 200 and answer.json()["status"] == "waiting"
        assert await tasks(client, cast.alice, mine="true") == []

    async def test_resolving_the_conversation_completes_its_task(self, client, cast, runtime):
        await setup_support(client, cast)
        conversation = await customer_writes(client, cast, runtime, 1)
        await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"status": "resolved"},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        assert await tasks(client, cast.ada) == []
        worker = (
            await client.get(f"/api/v1/routing/agents/{cast.alice.id}", headers=cast.ada.headers)
        ).json()
        assert worker["active"]["api"] == 0

    async def test_assigning_by_hand_gives_a_waiting_task_to_the_agent_picked(
        self, client, cast, runtime
    ):
        await setup_support(client, cast)
        await set_worker(client, cast, cast.alice.id, presence="away")
        conversation = await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.ada, status="waiting")
        assigned = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        assert assigned.status_code == 200, assigned.text
        await run_jobs(runtime)
        assert await tasks(client, cast.ada, status="waiting") == []
        got = (await client.get(f"/api/v1/tasks/{task['id']}", headers=cast.ada.headers)).json()
        assert got["status"] == "assigned" and got["assignee_id"] == cast.alice.id
        assert got["by_hand"] is True
        assert got["offered_at"] is not None and got["offered_at"] == got["accepted_at"]
        # Her slot counts the task, as an accepted one does: back at her desk with one api
        # slot, Alice is offered nothing more.
        worker = await set_worker(client, cast, cast.alice.id, presence="available")
        assert worker["active"]["api"] == 1
        await customer_writes(client, cast, runtime, 2)
        assert [t["id"] for t in await tasks(client, cast.alice, mine="true")] == [task["id"]]

    async def test_assigning_by_hand_ends_an_offer_and_frees_the_slot(self, client, cast, runtime):
        await setup_support(client, cast)
        conversation = await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.alice, mine="true")
        assert task["status"] == "offered"
        await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": cast.ada.id},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        assert await tasks(client, cast.alice, mine="true") == []
        worker = (
            await client.get(f"/api/v1/routing/agents/{cast.alice.id}", headers=cast.ada.headers)
        ).json()
        assert worker["active"]["api"] == 0
        got = await client.get(f"/api/v1/conversations/{conversation}", headers=cast.ada.headers)
        assert got.json()["assignee_id"] == cast.ada.id
        [held] = await tasks(client, cast.ada, mine="true")
        assert held["id"] == task["id"] and held["status"] == "assigned" and held["by_hand"]

    async def test_assigning_an_offer_to_its_own_agent_accepts_it(self, client, cast, runtime):
        await setup_support(client, cast)
        conversation = await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.alice, mine="true")
        await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        [held] = await tasks(client, cast.alice, mine="true")
        assert held["id"] == task["id"] and held["status"] == "assigned" and held["by_hand"]
        worker = await set_worker(client, cast, cast.alice.id)
        assert worker["active"]["api"] == 1  # the offer's slot, not a second one

    async def test_an_agent_without_room_holds_it_without_a_slot(self, client, cast, runtime):
        await setup_support(client, cast)
        first = await customer_writes(client, cast, runtime, 1)
        [offer] = await tasks(client, cast.alice, mine="true")
        await client.post(f"/api/v1/tasks/{offer['id']}/accept", headers=cast.alice.headers)
        second = await customer_writes(client, cast, runtime, 2)
        await client.patch(
            f"/api/v1/conversations/{second}",
            json={"assignee_id": cast.alice.id},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        mine = await tasks(client, cast.alice, mine="true")
        assert sorted(t["status"] for t in mine) == ["assigned", "assigned"]
        assert (await set_worker(client, cast, cast.alice.id))["active"]["api"] == 1  # never 2
        # Letting the slot-less task go frees nothing: her first task still holds its slot.
        await client.patch(
            f"/api/v1/conversations/{second}", json={"status": "resolved"}, headers=cast.ada.headers
        )
        await run_jobs(runtime)
        assert (await set_worker(client, cast, cast.alice.id))["active"]["api"] == 1
        await client.patch(
            f"/api/v1/conversations/{first}", json={"status": "resolved"}, headers=cast.ada.headers
        )
        await run_jobs(runtime)
        assert (await set_worker(client, cast, cast.alice.id))["active"]["api"] == 0

    async def test_reassigning_a_held_task_moves_it_and_its_slot(self, client, cast, runtime):
        await setup_support(client, cast)
        conversation = await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.alice, mine="true")
        await client.post(f"/api/v1/tasks/{task['id']}/accept", headers=cast.alice.headers)
        moved = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": cast.ada.id},
            headers=cast.ada.headers,
        )
        assert moved.status_code == 200, moved.text
        await run_jobs(runtime)
        assert await tasks(client, cast.alice, mine="true") == []
        alice = await client.get(
            f"/api/v1/routing/agents/{cast.alice.id}", headers=cast.ada.headers
        )
        assert alice.json()["active"]["api"] == 0
        [held] = await tasks(client, cast.ada, mine="true")
        assert held["id"] == task["id"] and held["status"] == "assigned" and held["by_hand"]

    async def test_unassigning_by_hand_puts_the_task_back(self, client, cast, runtime):
        await setup_support(client, cast)
        conversation = await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.alice, mine="true")
        await client.post(f"/api/v1/tasks/{task['id']}/accept", headers=cast.alice.headers)
        await set_worker(client, cast, cast.alice.id, presence="away")
        unassigned = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"assignee_id": None},
            headers=cast.ada.headers,
        )
        assert unassigned.status_code == 200, unassigned.text
        await run_jobs(runtime)
        back = (await client.get(f"/api/v1/tasks/{task['id']}", headers=cast.ada.headers)).json()
        assert back["status"] == "waiting" and back["assignee_id"] is None
        alice = await client.get(
            f"/api/v1/routing/agents/{cast.alice.id}", headers=cast.ada.headers
        )
        assert alice.json()["active"]["api"] == 0
        await set_worker(client, cast, cast.alice.id)
        [again] = await tasks(client, cast.alice, mine="true")  # she may take it again
        assert again["id"] == task["id"] and again["status"] == "offered"

    async def test_a_reopened_conversation_gets_a_new_task(self, client, cast, runtime):
        await setup_support(client, cast)
        conversation = await customer_writes(client, cast, runtime, 1)
        await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"status": "resolved"},
            headers=cast.ada.headers,
        )
        await run_jobs(runtime)
        reopened = await client.patch(
            f"/api/v1/conversations/{conversation}",
            json={"status": "open"},
            headers=cast.ada.headers,
        )
        assert reopened.status_code == 200
        await run_jobs(runtime)
        [task] = await tasks(client, cast.ada)
        assert task["conversation_id"] == conversation and task["reopened_at"] is not None

    async def test_others_cannot_see_or_touch_a_task(self, client, cast, runtime):
        await setup_support(client, cast)
        await customer_writes(client, cast, runtime, 1)
        [task] = await tasks(client, cast.alice, mine="true")
        seen = await client.get(f"/api/v1/tasks/{task['id']}", headers=cast.bob.headers)
        assert seen.status_code == 404
        taken = await client.post(f"/api/v1/tasks/{task['id']}/accept", headers=cast.bob.headers)
        assert taken.status_code == 404
        assert await tasks(client, cast.bob) == []


class TestWorkItems:
    async def test_pull_takes_the_most_urgent_work_item(self, client, cast, runtime):
        queue_id = await setup_support(client, cast)
        await set_worker(client, cast, cast.alice.id, presence="away")
        made = []
        for kind, priority in (("call back", 0), ("process refund", 2), ("check", 0)):
            answer = await client.post(
                "/api/v1/tasks",
                json={"type": kind, "base_priority": priority, "queue_id": queue_id},
                headers=cast.ada.headers,
            )
            assert answer.status_code == 201, answer.text
            made.append(answer.json())
        listed = await tasks(client, cast.alice)
        assert [t["type"] for t in listed] == ["process refund", "call back", "check"]
        await set_worker(client, cast, cast.alice.id, capacity={"backoffice": 2}, presence="away")
        await client.patch(
            f"/api/v1/routing/agents/{cast.alice.id}",
            json={"presence": "available"},
            headers=cast.alice.headers,
        )
        # presence "available" routes at once: two slots, the two best ranked are offered
        mine = await tasks(client, cast.alice, mine="true")
        assert {t["type"] for t in mine} == {"process refund", "call back"}
        taken = await client.post("/api/v1/tasks/next", headers=cast.alice.headers)
        assert taken.status_code == 200 and taken.json() is None  # at capacity

    async def test_a_task_near_its_due_time_outranks_older_ones(self, client, cast, runtime):
        queue_id = await setup_support(client, cast)
        await set_worker(client, cast, cast.alice.id, presence="away")
        soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
        for kind, extra in (("old", {}), ("same", {}), ("due soon", {"due_at": soon})):
            answer = await client.post(
                "/api/v1/tasks",
                json={"type": kind, "queue_id": queue_id, **extra},
                headers=cast.ada.headers,
            )
            assert answer.status_code == 201, answer.text
        listed = await tasks(client, cast.ada)
        assert [t["type"] for t in listed] == ["due soon", "old", "same"]  # equals: FIFO
        assert listed[0]["effective_priority"] > listed[1]["effective_priority"]

    async def test_an_implausible_due_time_is_refused_not_a_500(self, client, cast):
        # Year 1 minus the urgency lead overflowed the ordering arithmetic (a 500).
        for due in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
            answer = await client.post(
                "/api/v1/tasks", json={"type": "refund", "due_at": due}, headers=cast.ada.headers
            )
            assert answer.status_code == 422, answer.text
            assert "due_at" in answer.text

    async def test_transfer_to_another_queue(self, client, cast, runtime):
        queue_id = await setup_support(client, cast)
        billing = await client.post(
            "/api/v1/routing/queues",
            json={"name": "Billing", "agent_expression": "teams HAS 'Billing'"},
            headers=cast.ada.headers,
        )
        item = await client.post(
            "/api/v1/tasks", json={"type": "refund", "queue_id": queue_id}, headers=cast.ada.headers
        )
        assert item.json()["status"] == "offered" and item.json()["assignee_id"] == cast.alice.id
        moved = await client.post(
            f"/api/v1/tasks/{item.json()['id']}/transfer",
            json={"queue_id": billing.json()["id"]},
            headers=cast.alice.headers,
        )
        assert moved.status_code == 200, moved.text
        assert (
            moved.json()["status"] == "waiting" and moved.json()["queue_id"] == billing.json()["id"]
        )
        assert [t["type"] for t in await tasks(client, cast.bob)] == ["refund"]

    async def test_a_work_item_cannot_link_a_conversation_its_author_cannot_see(
        self, client, cast, runtime
    ):
        conversation = await customer_writes(client, cast, runtime, 1)  # the Website inbox
        answer = await client.post(
            "/api/v1/tasks",
            json={"type": "call back", "conversation_id": conversation},
            headers=cast.bob.headers,
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "unknown_conversation"
        answer = await client.post(
            "/api/v1/tasks",
            json={"type": "call back", "conversation_id": conversation},
            headers=cast.alice.headers,
        )
        assert answer.status_code == 201
        assert answer.json()["customer_id"] is not None
