"""auth/views.py and deps.py over HTTP: which credential opens what, what a password
change or deactivation ends, and conflicts and nulls refused (never a 500)."""

from __future__ import annotations

from dataclasses import replace

from frontdesk.auth.repository import get_agent
from tests.web.test_desk import login


class TestCredentialKinds:
    async def test_a_desktop_session_cookie_is_not_a_bearer_token(self, client, cast):
        await login(client, cast.alice)
        session = client.cookies["fd_session"]
        client.cookies.clear()
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {session}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"

    async def test_an_api_token_is_not_a_desktop_session(self, client, cast):
        client.cookies.set("fd_session", cast.alice.token)
        response = await client.get("/")
        assert response.status_code == 303 and response.headers["location"] == "/login"


class TestUpdateAgent:
    async def test_a_new_password_ends_the_agents_sessions_and_tokens(self, client, cast):
        await login(client, cast.alice)
        assert (await client.get("/")).status_code == 200
        response = await client.patch(
            f"/api/v1/agents/{cast.alice.id}",
            json={"password": "a-new-password-2"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 200
        assert (await client.get("/")).status_code == 303
        assert (await client.get("/api/v1/me", headers=cast.alice.headers)).status_code == 401
        # Others are untouched.
        assert (await client.get("/api/v1/me", headers=cast.bob.headers)).status_code == 200

    async def test_new_passwords_are_hashed_at_the_configured_cost(self, client, cast, runtime):
        """Settings.password_* set the cost of new hashes (cheap in this suite; production
        refuses less than OWASP's floor): created and changed passwords both follow it."""
        runtime.settings.password_time_cost, runtime.settings.password_memory_kib = 2, 2048
        created = await client.post(
            "/api/v1/agents",
            json={"email": "cy@frontdesk.test", "name": "Cy", "password": "cy-password-1"},
            headers=cast.ada.headers,
        )
        assert created.status_code == 201, created.text
        await client.patch(
            f"/api/v1/agents/{cast.bob.id}",
            json={"password": "a-new-password-2"},
            headers=cast.ada.headers,
        )
        async with runtime.db.session() as session:
            for agent_id in (created.json()["id"], cast.bob.id):
                agent = await get_agent(session, agent_id)
                assert agent is not None and "$m=2048,t=2,p=4$" in agent.password_hash
        await login(client, replace(cast.bob, password="a-new-password-2"))

    async def test_deactivation_ends_every_session_and_token(self, client, cast):
        await login(client, cast.bob)
        await client.patch(
            f"/api/v1/agents/{cast.bob.id}", json={"active": False}, headers=cast.ada.headers
        )
        assert (await client.get("/")).status_code == 303
        assert (await client.get("/api/v1/me", headers=cast.bob.headers)).status_code == 401


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
