"""The workspace's productivity API: saved views (personal, team, everyone), macros (reply +
status + tags + assignment, shared ones admin-only), bulk changes (visibility per
conversation, all or nothing, one activity line per change) and workspace preferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from frontdesk.conversations import service as conversations_service
from frontdesk.kit import uow
from tests.conftest import inbound_payload, post_inbound


async def opened(client, inbox, external_id: str, address: str = "layla@example.com") -> int:  # type: ignore[no-untyped-def]
    response = await post_inbound(client, inbox, inbound_payload(external_id, address))
    return int(response.json()["conversation_id"])


async def activity(client, person, conversation: int) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    response = await client.get(
        f"/api/v1/conversations/{conversation}/activity", headers=person.headers
    )
    assert response.status_code == 200, response.text
    return [(i["kind"], i["by_agent_id"], i["new"]) for i in response.json()["items"]]


async def names(client, person) -> list[str]:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/saved-views", headers=person.headers)
    assert response.status_code == 200, response.text
    return [v["name"] for v in response.json()]


class TestSavedViews:
    async def test_a_personal_view_is_only_its_owners(self, client, cast):
        response = await client.post(
            "/api/v1/saved-views",
            json={"name": "My urgent", "query": "view=mine&priority=urgent&evil=1&q=refund"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["query"] == "view=mine&priority=urgent&q=refund"
        assert body["url"] == "/?view=mine&priority=urgent&q=refund" and body["shared"] is False
        assert await names(client, cast.alice) == ["My urgent"]
        assert await names(client, cast.bob) == []
        assert await names(client, cast.sara) == []

    async def test_a_team_view_is_seen_by_the_team_only(self, client, cast):
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        support = next(t["id"] for t in teams if t["name"] == "Support")
        billing = next(t["id"] for t in teams if t["name"] == "Billing")
        made = await client.post(
            "/api/v1/saved-views",
            json={"name": "Support open", "query": "status=open", "team_id": support},
            headers=cast.alice.headers,
        )
        assert made.status_code == 201 and made.json()["shared"] is True
        assert await names(client, cast.bob) == []
        assert await names(client, cast.sara) == ["Support open"]
        refused = await client.post(
            "/api/v1/saved-views",
            json={"name": "Not mine", "team_id": billing},
            headers=cast.alice.headers,
        )
        assert refused.status_code == 403

    async def test_sharing_with_everyone_takes_a_supervisor(self, client, cast):
        body = {"name": "Everyone's", "query": "view=unassigned", "shared": True}
        refused = await client.post("/api/v1/saved-views", json=body, headers=cast.alice.headers)
        assert refused.status_code == 403
        made = await client.post("/api/v1/saved-views", json=body, headers=cast.sara.headers)
        assert made.status_code == 201
        assert await names(client, cast.bob) == ["Everyone's"]
        # Bob sees it but may not delete it; Sara may.
        view = made.json()["id"]
        gone = await client.delete(f"/api/v1/saved-views/{view}", headers=cast.bob.headers)
        assert gone.status_code == 403
        gone = await client.delete(f"/api/v1/saved-views/{view}", headers=cast.sara.headers)
        assert gone.status_code == 204
        assert await names(client, cast.bob) == []

    async def test_anothers_personal_view_is_not_found(self, client, cast):
        made = await client.post(
            "/api/v1/saved-views", json={"name": "Mine"}, headers=cast.alice.headers
        )
        view = made.json()["id"]
        response = await client.delete(f"/api/v1/saved-views/{view}", headers=cast.bob.headers)
        assert response.status_code == 404

    async def test_unknown_fields_are_refused(self, client, cast):
        response = await client.post(
            "/api/v1/saved-views", json={"name": "x", "colour": "red"}, headers=cast.alice.headers
        )
        assert response.status_code == 422 and "colour" in response.text


class TestMacros:
    async def test_applying_replies_and_sets_status_tags_and_assignee(self, client, cast):
        found = await opened(client, cast.website, "mac-1")
        made = await client.post(
            "/api/v1/macros",
            json={
                "name": "Refund done",
                "text": "Hi {{customer.first_name}}, your refund is on its way. {{agent.name}}",
                "status": "pending",
                "tags": ["refund"],
                "assign": "me",
            },
            headers=cast.alice.headers,
        )
        assert made.status_code == 201, made.text
        macro = made.json()["id"]
        applied = await client.post(
            f"/api/v1/macros/{macro}/apply",
            json={"conversation_id": found},
            headers=cast.alice.headers,
        )
        assert applied.status_code == 200, applied.text
        assert applied.json()["message_id"]
        got = (
            await client.get(f"/api/v1/conversations/{found}", headers=cast.alice.headers)
        ).json()
        assert got["status"] == "pending" and got["assignee_id"] == cast.alice.id
        assert got["tags"] == ["refund"]
        messages = await client.get(
            f"/api/v1/conversations/{found}/messages", headers=cast.alice.headers
        )
        assert messages.json()["items"][-1]["text"] == "Hi , your refund is on its way. Alice"
        lines = await activity(client, cast.ada, found)
        alice = cast.alice.id
        assert ("assigned", alice, alice) in lines and ("status", alice, "pending") in lines
        assert ("tags_added", alice, ["refund"]) in lines

    async def test_a_macro_in_a_conversation_out_of_reach_is_not_found(self, client, cast):
        found = await opened(client, cast.app, "mac-2")  # Billing's inbox: not Alice's
        made = await client.post(
            "/api/v1/macros",
            json={"name": "Close", "status": "resolved"},
            headers=cast.alice.headers,
        )
        applied = await client.post(
            f"/api/v1/macros/{made.json()['id']}/apply",
            json={"conversation_id": found},
            headers=cast.alice.headers,
        )
        assert applied.status_code == 404
        got = (await client.get(f"/api/v1/conversations/{found}", headers=cast.ada.headers)).json()
        assert got["status"] == "open"

    async def test_shared_macros_are_for_admins_to_manage(self, client, cast):
        body = {"name": "Shared", "status": "resolved", "shared": True}
        refused = await client.post("/api/v1/macros", json=body, headers=cast.sara.headers)
        assert refused.status_code == 403
        made = await client.post("/api/v1/macros", json=body, headers=cast.ada.headers)
        assert made.status_code == 201
        listed = (await client.get("/api/v1/macros", headers=cast.bob.headers)).json()
        assert [m["name"] for m in listed] == ["Shared"]
        mid = made.json()["id"]
        gone = await client.delete(f"/api/v1/macros/{mid}", headers=cast.bob.headers)
        assert gone.status_code == 403
        gone = await client.delete(f"/api/v1/macros/{mid}", headers=cast.ada.headers)
        assert gone.status_code == 204

    async def test_personal_macros_are_private(self, client, cast):
        await client.post(
            "/api/v1/macros", json={"name": "Mine", "tags": ["x"]}, headers=cast.alice.headers
        )
        assert (await client.get("/api/v1/macros", headers=cast.bob.headers)).json() == []

    async def test_a_macro_that_does_nothing_is_refused(self, client, cast):
        response = await client.post(
            "/api/v1/macros", json={"name": "Empty"}, headers=cast.alice.headers
        )
        assert response.status_code == 422
        response = await client.post(
            "/api/v1/macros",
            json={"name": "Who", "assign": "agent"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422


class TestBulk:
    async def test_assign_status_and_tag_many_at_once(self, client, cast):
        first = await opened(client, cast.website, "bulk-1", "one@example.com")
        second = await opened(client, cast.website, "bulk-2", "two@example.com")
        response = await client.post(
            "/api/v1/conversations/bulk",
            json={
                "ids": [first, second],
                "assignee_id": cast.alice.id,
                "status": "pending",
                "add_tag": "billing",
            },
            headers=cast.sara.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"updated": 2}
        for found in (first, second):
            got = (
                await client.get(f"/api/v1/conversations/{found}", headers=cast.sara.headers)
            ).json()
            assert (got["status"], got["assignee_id"], got["tags"]) == (
                "pending",
                cast.alice.id,
                ["billing"],
            )
            lines = await activity(client, cast.sara, found)
            sara = cast.sara.id
            assert ("assigned", sara, cast.alice.id) in lines
            assert ("status", sara, "pending") in lines
            assert ("tags_added", sara, ["billing"]) in lines

    async def test_one_conversation_out_of_reach_changes_nothing(self, client, cast):
        mine = await opened(client, cast.website, "bulk-3")
        theirs = await opened(client, cast.app, "bulk-4")
        response = await client.post(
            "/api/v1/conversations/bulk",
            json={"ids": [mine, theirs], "status": "resolved"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 404
        got = (await client.get(f"/api/v1/conversations/{mine}", headers=cast.alice.headers)).json()
        assert got["status"] == "open"

    async def test_unassign_and_tag_kept_once(self, client, cast):
        found = await opened(client, cast.website, "bulk-5")
        body = {"ids": [found], "assignee_id": cast.alice.id, "add_tag": "vip"}
        await client.post("/api/v1/conversations/bulk", json=body, headers=cast.ada.headers)
        body = {"ids": [found, found], "unassign": True, "add_tag": "vip"}
        response = await client.post(
            "/api/v1/conversations/bulk", json=body, headers=cast.ada.headers
        )
        assert response.json() == {"updated": 1}
        got = (await client.get(f"/api/v1/conversations/{found}", headers=cast.ada.headers)).json()
        assert got["assignee_id"] is None and got["tags"] == ["vip"]

    async def test_nothing_to_change_is_refused(self, client, cast):
        found = await opened(client, cast.website, "bulk-6")
        response = await client.post(
            "/api/v1/conversations/bulk", json={"ids": [found]}, headers=cast.ada.headers
        )
        assert response.status_code == 422


class TestPreferences:
    async def test_defaults_then_saved_per_agent(self, client, cast):
        got = await client.get("/api/v1/me/preferences", headers=cast.alice.headers)
        assert got.json() == {"time_zone": "UTC", "notify": [], "sound": False}
        changed = await client.patch(
            "/api/v1/me/preferences",
            json={"time_zone": "Asia/Tehran", "notify": ["mentions", "new"], "sound": True},
            headers=cast.alice.headers,
        )
        assert changed.json() == {
            "time_zone": "Asia/Tehran",
            "notify": ["mentions", "new"],
            "sound": True,
        }
        other = await client.get("/api/v1/me/preferences", headers=cast.bob.headers)
        assert other.json()["notify"] == []

    async def test_unknown_zone_and_kind_are_refused(self, client, cast):
        for body in ({"time_zone": "Mars/Olympus"}, {"notify": ["everything"]}):
            response = await client.patch(
                "/api/v1/me/preferences", json=body, headers=cast.alice.headers
            )
            assert response.status_code == 422, body


class TestSnoozeWakes:
    async def test_a_snooze_wakes_at_the_picked_time_by_the_system(self, client, cast, runtime):
        found = await opened(client, cast.website, "wake-1")
        until = datetime.now(UTC) + timedelta(minutes=30)
        response = await client.patch(
            f"/api/v1/conversations/{found}",
            json={"status": "snoozed", "snoozed_until": until.isoformat()},
            headers=cast.alice.headers,
        )
        assert response.status_code == 200, response.text
        async with runtime.db.session() as session:
            assert await conversations_service.wake_snoozed(session) == 0  # not yet
            await uow.commit(session)
        with time_machine.travel(until + timedelta(seconds=1), tick=True):
            async with runtime.db.session() as session:
                assert await conversations_service.wake_snoozed(session) == 1
                await uow.commit(session)
        got = await client.get(f"/api/v1/conversations/{found}", headers=cast.alice.headers)
        assert got.json()["status"] == "open"
        assert (await activity(client, cast.ada, found))[-1] == ("status", None, "open")


class TestUnknownReferences:
    async def test_a_view_for_a_team_that_does_not_exist_is_422(self, client, cast):
        response = await client.post(
            "/api/v1/saved-views", json={"name": "x", "team_id": 99999}, headers=cast.ada.headers
        )
        assert response.status_code == 422 and "unknown_team" in response.text

    async def test_a_macro_for_an_agent_that_does_not_exist_is_422(self, client, cast):
        response = await client.post(
            "/api/v1/macros",
            json={"name": "x", "assign": "agent", "assignee_id": 99999},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422 and "invalid_assignee" in response.text
