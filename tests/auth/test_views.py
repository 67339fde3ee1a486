"""Agents and teams over the API: conflicts and nulls are refused, never a 500."""

from __future__ import annotations


class TestTeams:
    async def test_renaming_a_team_to_a_taken_name_conflicts(self, client, cast):
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        billing = next(team for team in teams if team["name"] == "Billing")
        response = await client.patch(
            f"/api/v1/teams/{billing['id']}", json={"name": "Support"}, headers=cast.ada.headers
        )
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "team_exists"

    async def test_renaming_a_team_to_its_own_name_is_fine(self, client, cast):
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        support = next(team for team in teams if team["name"] == "Support")
        response = await client.patch(
            f"/api/v1/teams/{support['id']}", json={"name": "Support"}, headers=cast.ada.headers
        )
        assert response.status_code == 200, response.text

    async def test_unknown_members_are_refused(self, client, cast):
        response = await client.post(
            "/api/v1/teams",
            json={"name": "Night", "agent_ids": [999_999]},
            headers=cast.ada.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "unknown_agent"


class TestAgents:
    async def test_null_password_is_refused(self, client, cast):
        for field in ("password", "name", "role", "active", "language"):
            response = await client.patch(
                f"/api/v1/agents/{cast.bob.id}", json={field: None}, headers=cast.ada.headers
            )
            assert response.status_code == 422, (field, response.text)
            assert response.json()["error"]["code"] == "invalid"
        # Bob still signs in with his password.
        me = await client.get("/api/v1/me", headers=cast.bob.headers)
        assert me.status_code == 200 and me.json()["active"] is True
