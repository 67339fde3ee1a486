"""Invitations, deactivation, the agent's own profile, password and API tokens over HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from frontdesk.auth.models import ApiToken
from frontdesk.auth.service import password_problem
from frontdesk.db import utcnow
from frontdesk.kit import uow
from tests.web.test_views import csrf_of

STRONG = "river-lantern-42"


async def invite(client, cast, email="nadia@frontdesk.test", role="agent"):  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/agents/invitations",
        json={"email": email, "name": "Nadia", "role": role, "language": "fa"},
        headers=cast.ada.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


class TestInvitation:
    async def test_an_invited_agent_cannot_log_in_before_choosing_a_password(self, client, cast):
        body = await invite(client, cast)
        assert body["agent"]["role"] == "agent" and body["agent"]["language"] == "fa"
        assert body["invitation_url"].split("/invite/")[1].startswith("fdi_")
        token = body["invitation_url"].rsplit("/", 1)[1]
        # The invitation is no bearer token.
        who = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert who.status_code == 401

    async def test_only_admins_invite(self, client, cast):
        response = await client.post(
            "/api/v1/agents/invitations",
            json={"email": "x@frontdesk.test", "name": "X"},
            headers=cast.sara.headers,
        )
        assert response.status_code == 403

    async def test_an_existing_address_is_a_conflict(self, client, cast):
        response = await client.post(
            "/api/v1/agents/invitations",
            json={"email": cast.bob.email, "name": "Bob again"},
            headers=cast.ada.headers,
        )
        assert response.status_code == 409

    async def test_a_new_invitation_replaces_the_old_link(self, client, cast):
        body = await invite(client, cast)
        old = body["invitation_url"].rsplit("/", 1)[1]
        again = await client.post(
            f"/api/v1/agents/{body['agent']['id']}/invitation", headers=cast.ada.headers
        )
        assert again.status_code == 201
        assert (await client.get(f"/invite/{old}")).status_code == 404
        new = again.json()["invitation_url"].rsplit("/", 1)[1]
        assert (await client.get(f"/invite/{new}")).status_code == 200

    async def test_an_invitation_expires_after_a_week(self, client, cast, runtime):
        body = await invite(client, cast)
        token = body["invitation_url"].rsplit("/", 1)[1]
        assert utcnow() + timedelta(days=6) < _parse(body["expires_at"])
        async with runtime.db.session() as session:
            await session.execute(
                update(ApiToken)
                .where(ApiToken.kind == "invite")
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await uow.commit(session)
        assert (await client.get(f"/invite/{token}")).status_code == 404


class TestDeactivation:
    async def test_a_deactivated_agent_cannot_use_tokens_or_log_in(self, client, cast):
        off = await client.patch(
            f"/api/v1/agents/{cast.bob.id}", json={"active": False}, headers=cast.ada.headers
        )
        assert off.status_code == 200 and off.json()["active"] is False
        assert (await client.get("/api/v1/me", headers=cast.bob.headers)).status_code == 401
        page = await client.get("/login")
        login = await client.post(
            "/login",
            data={
                "email": cast.bob.email,
                "password": cast.bob.password,
                "csrf": csrf_of(page.text),
            },
        )
        assert login.status_code == 401
        on = await client.patch(
            f"/api/v1/agents/{cast.bob.id}", json={"active": True}, headers=cast.ada.headers
        )
        assert on.json()["active"] is True
        # Reactivated: a password works again (tokens ended with the deactivation).
        assert (await client.get("/api/v1/me", headers=cast.bob.headers)).status_code == 401


class TestProfile:
    async def test_name_language_and_signature(self, client, cast):
        response = await client.patch(
            "/api/v1/me",
            json={"name": "Alice Q.", "language": "ar", "signature": "  Alice\nSupport team  "},
            headers=cast.alice.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["signature"] == "Alice\nSupport team"
        assert response.json()["language"] == "ar" and response.json()["name"] == "Alice Q."

    async def test_role_is_not_a_profile_field(self, client, cast):
        response = await client.patch(
            "/api/v1/me", json={"role": "admin"}, headers=cast.alice.headers
        )
        assert response.status_code == 422
        assert "role" in response.text


class TestPassword:
    async def test_the_current_password_is_required(self, client, cast):
        response = await client.post(
            "/api/v1/me/password",
            json={"current_password": "wrong-one-here", "new_password": STRONG},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "wrong_password"

    async def test_a_weak_password_is_refused(self, client, cast):
        response = await client.post(
            "/api/v1/me/password",
            json={"current_password": cast.alice.password, "new_password": "alice12345"},
            headers=cast.alice.headers,
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "weak_password"

    async def test_a_change_keeps_this_token_and_ends_the_others(self, client, cast):
        other = await client.post("/api/v1/me/tokens", json={"name": "cli"},
                                  headers=cast.alice.headers)  # fmt: skip
        response = await client.post(
            "/api/v1/me/password",
            json={"current_password": cast.alice.password, "new_password": STRONG},
            headers=cast.alice.headers,
        )
        assert response.status_code == 204
        assert (await client.get("/api/v1/me", headers=cast.alice.headers)).status_code == 200
        gone = {"Authorization": f"Bearer {other.json()['token']}"}
        assert (await client.get("/api/v1/me", headers=gone)).status_code == 401

    def test_strength_rules(self) -> None:
        assert password_problem("short", email="a@b.c") == "too_short"
        assert password_problem("aaaaaaaaaaaa", email="a@b.c") == "too_common"
        assert password_problem("1234567890", email="a@b.c") == "too_common"
        assert password_problem("nadia-2026-x", email="nadia@x.org") == "too_personal"
        assert password_problem(STRONG, email="nadia@x.org", name="Nadia") is None


class TestTokens:
    async def test_create_list_revoke(self, client, cast):
        created = await client.post(
            "/api/v1/me/tokens", json={"name": "zapier"}, headers=cast.alice.headers
        )
        assert created.status_code == 201
        token = created.json()["token"]
        assert token.startswith(created.json()["prefix"]) and len(created.json()["prefix"]) == 10
        mine = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/v1/me", headers=mine)).status_code == 200
        listed = (await client.get("/api/v1/me/tokens", headers=cast.alice.headers)).json()
        assert "token" not in listed[0]
        zapier = next(row for row in listed if row["name"] == "zapier")
        assert zapier["last_used_at"] is not None
        revoked = await client.delete(
            f"/api/v1/me/tokens/{zapier['id']}", headers=cast.alice.headers
        )
        assert revoked.status_code == 204
        assert (await client.get("/api/v1/me", headers=mine)).status_code == 401

    async def test_nobody_revokes_anothers_token(self, client, cast):
        created = await client.post(
            "/api/v1/me/tokens", json={"name": "bob's"}, headers=cast.bob.headers
        )
        response = await client.delete(
            f"/api/v1/me/tokens/{created.json()['id']}", headers=cast.alice.headers
        )
        assert response.status_code == 404
        bobs = {"Authorization": f"Bearer {created.json()['token']}"}
        assert (await client.get("/api/v1/me", headers=bobs)).status_code == 200

    async def test_last_use_is_written_once_per_grain(self, client, cast, runtime):
        await client.get("/api/v1/me", headers=cast.alice.headers)
        async with runtime.db.session() as session:
            first = await session.scalar(
                select(ApiToken.last_used_at).where(
                    ApiToken.agent_id == cast.alice.id, ApiToken.kind == "api"
                )
            )
        await client.get("/api/v1/me", headers=cast.alice.headers)
        async with runtime.db.session() as session:
            second = await session.scalar(
                select(ApiToken.last_used_at).where(
                    ApiToken.agent_id == cast.alice.id, ApiToken.kind == "api"
                )
            )
        assert first is not None and first == second


def _parse(value: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))
