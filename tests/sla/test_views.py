"""The SLA admin API: calendars and policies, their validation and who may use them."""

from __future__ import annotations

import pytest

from tests.sla.helpers import make_policy

RIYADH = {
    "name": "Riyadh office",
    "time_zone": "Asia/Riyadh",
    "hours": {d: ["09:00-17:00"] for d in ("sun", "mon", "tue", "wed", "thu")},
    "holidays": ["2026-09-23"],
}


class TestCalendars:
    async def test_create_read_update_delete(self, client, cast):
        made = await client.post("/api/v1/sla/calendars", json=RIYADH, headers=cast.ada.headers)
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["hours"]["fri"] == [] and body["hours"]["sat"] == []
        assert body["hours"]["sun"] == ["09:00-17:00"]
        url = f"/api/v1/sla/calendars/{body['id']}"
        changed = await client.patch(
            url, json={"hours": {"sun": ["08:00-12:00", "13:00-16:00"]}}, headers=cast.ada.headers
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["hours"]["sun"] == ["08:00-12:00", "13:00-16:00"]
        assert changed.json()["hours"]["mon"] == []
        listed = await client.get("/api/v1/sla/calendars", headers=cast.ada.headers)
        assert [c["name"] for c in listed.json()] == ["Riyadh office"]
        assert (await client.delete(url, headers=cast.ada.headers)).status_code == 204
        assert (await client.get(url, headers=cast.ada.headers)).status_code == 404

    @pytest.mark.parametrize(
        ("change", "words"),
        [
            ({"time_zone": "Mars/Olympus"}, "time zone"),
            ({"time_zone": "America"}, "time zone"),  # a directory of the tz database
            ({"hours": {"mon": ["09:00-13:00", "12:00-17:00"]}}, "overlap"),
            ({"hours": {"mon": ["17:00-09:00"]}}, "start before"),
            ({"hours": {"funday": ["09:00-17:00"]}}, "weekday"),
            ({"hours": {"mon": []}}, "at least one weekday"),
            ({"holidays": ["2026-02-30"]}, "holidays"),
        ],
    )
    async def test_bad_input_is_a_clear_422(self, client, cast, change, words):
        answer = await client.post(
            "/api/v1/sla/calendars", json={**RIYADH, **change}, headers=cast.ada.headers
        )
        assert answer.status_code == 422, answer.text
        assert words in answer.text

    async def test_a_calendar_in_use_is_not_deleted(self, client, cast):
        made = await client.post("/api/v1/sla/calendars", json=RIYADH, headers=cast.ada.headers)
        await make_policy(client, cast, calendar_id=made.json()["id"])
        answer = await client.delete(
            f"/api/v1/sla/calendars/{made.json()['id']}", headers=cast.ada.headers
        )
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "calendar_in_use"

    async def test_only_admins(self, client, cast):
        for person in (cast.sara, cast.alice):
            assert (
                await client.get("/api/v1/sla/calendars", headers=person.headers)
            ).status_code == 403
            answer = await client.post(
                "/api/v1/sla/policies",
                json={"name": "x", "first_response_seconds": 600},
                headers=person.headers,
            )
            assert answer.status_code == 403


class TestPolicies:
    async def test_create_and_update(self, client, cast):
        policy = await make_policy(client, cast, priorities=["urgent"], tiers=["gold"])
        assert policy["priorities"] == ["urgent"] and policy["calendar_id"] is None
        answer = await client.patch(
            f"/api/v1/sla/policies/{policy['id']}",
            json={"next_response_seconds": 1800, "position": 5},
            headers=cast.ada.headers,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["next_response_seconds"] == 1800
        assert answer.json()["position"] == 5

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"first_response_seconds": None, "resolution_seconds": None}, "no_target"),
            ({"calendar_id": 999}, "unknown_calendar"),
            ({"escalation_queue_id": 999}, "unknown_queue"),
            ({"priorities": ["asap"]}, "invalid"),
            ({"first_response_seconds": 5}, "invalid"),
            ({"colour": "red"}, "invalid"),
        ],
    )
    async def test_bad_input_is_refused(self, client, cast, fields, code):
        body = {"name": "P", "first_response_seconds": 600, "resolution_seconds": 3600, **fields}
        answer = await client.post("/api/v1/sla/policies", json=body, headers=cast.ada.headers)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == code

    async def test_names_are_unique(self, client, cast):
        await make_policy(client, cast)
        answer = await client.post(
            "/api/v1/sla/policies",
            json={"name": "Standard", "first_response_seconds": 600},
            headers=cast.ada.headers,
        )
        assert answer.status_code == 409
