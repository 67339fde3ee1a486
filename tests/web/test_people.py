"""Settings -> Agents and Teams (admins only), the invitation page, and the profile page
(name, language, signature, password, API tokens), in every language, CSRF-checked."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from frontdesk.auth.models import Agent
from frontdesk.demo.mail import kept_mail
from frontdesk.kit.i18n import catalogue
from tests.web.test_views import csrf_of, log_in

STRONG = "river-lantern-42"


async def page(client, path):  # type: ignore[no-untyped-def]
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.text


async def invite_through_the_page(client, cast, email="nadia@frontdesk.test", role="agent"):  # type: ignore[no-untyped-def]
    await log_in(client, cast.ada)
    html = await page(client, "/settings/agents")
    response = await client.post(
        "/settings/agents",
        data={"csrf": csrf_of(html), "name": "Nadia", "email": email, "role": role,
              "language": "fa"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    link = re.search(r'data-testid="fd-invitation-link"[^>]*|value="([^"]+/invite/[^"]+)"',
                     response.text)  # fmt: skip
    match = re.search(r'value="(http[^"]+/invite/(fdi_[^"]+))"', response.text)
    assert link and match, response.text
    return match.group(2)


class TestAccess:
    @pytest.mark.parametrize("who", ["alice", "sara"])
    async def test_only_admins(self, client, cast, who):
        await log_in(client, getattr(cast, who))
        for path in ("/settings/agents", "/settings/teams", "/settings/customer-attributes"):
            assert (await client.get(path)).status_code == 403, path
        csrf = csrf_of((await client.get("/")).text)
        posted = await client.post(
            f"/settings/agents/{cast.bob.id}", data={"csrf": csrf, "action": "deactivate"}
        )
        assert posted.status_code == 403
        team = await client.post("/settings/teams", data={"csrf": csrf, "name": "Sneaky"})
        assert team.status_code == 403

    async def test_a_form_without_its_token_is_refused(self, client, cast, runtime):
        await log_in(client, cast.ada)
        response = await client.post(
            f"/settings/agents/{cast.bob.id}", data={"csrf": "x", "action": "deactivate"}
        )
        assert response.status_code == 401
        async with runtime.db.session() as session:
            assert (await session.get(Agent, cast.bob.id)).active is True  # type: ignore[union-attr]


class TestAgents:
    async def test_invite_then_the_agent_sets_a_password_and_is_logged_in(self, client, cast):
        token = await invite_through_the_page(client, cast)
        client.cookies.clear()
        form = await page(client, f"/invite/{token}")
        assert 'dir="rtl"' in form  # Nadia's language is Persian
        weak = await client.post(
            f"/invite/{token}",
            data={"csrf": csrf_of(form), "password": "nadia12345", "password_again": "nadia12345"},
        )
        assert weak.status_code == 422
        assert (
            catalogue("fa")[
                "Choose a password of at least 10 characters that is not your name, your e-mail "
                "address or a common password."
            ]
            in weak.text
        )
        done = await client.post(
            f"/invite/{token}",
            data={"csrf": csrf_of(form), "password": STRONG, "password_again": STRONG},
        )
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert (await client.get("/")).status_code == 200
        # The link is spent.
        assert (await client.get(f"/invite/{token}")).status_code == 404
        client.cookies.clear()
        login = await client.get("/login")
        again = await client.post(
            "/login",
            data={"email": "nadia@frontdesk.test", "password": STRONG,
                  "csrf": csrf_of(login.text)},
        )  # fmt: skip
        assert again.status_code == 303

    async def test_in_the_demo_the_invitation_lands_in_the_demo_mailbox(
        self, client, cast, runtime
    ):
        runtime.settings.env = "development"
        token = await invite_through_the_page(client, cast)
        [mail] = kept_mail(runtime.settings)
        assert mail.to == "nadia@frontdesk.test"
        assert token in mail.message.get_body(preferencelist=("plain",)).get_content()

    async def test_a_taken_address_is_explained(self, client, cast):
        await log_in(client, cast.ada)
        html = await page(client, "/settings/agents")
        response = await client.post(
            "/settings/agents",
            data={"csrf": csrf_of(html), "name": "B", "email": cast.bob.email, "role": "agent",
                  "language": "en"},
        )  # fmt: skip
        assert response.status_code == 422
        assert "An agent with this e-mail address exists already." in response.text

    async def test_change_role_deactivate_and_reactivate(self, client, cast, runtime):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/settings/agents"))
        role = await client.post(
            f"/settings/agents/{cast.bob.id}",
            data={"csrf": csrf, "action": "role", "role": "supervisor"},
        )
        assert role.status_code == 303
        off = await client.post(
            f"/settings/agents/{cast.bob.id}", data={"csrf": csrf, "action": "deactivate"}
        )
        assert off.status_code == 303
        async with runtime.db.session() as session:
            bob = await session.get(Agent, cast.bob.id)
            assert bob is not None and (bob.role, bob.active) == ("supervisor", False)
        assert (await client.get("/api/v1/me", headers=cast.bob.headers)).status_code == 401
        html = await page(client, "/settings/agents")
        assert 'data-testid="fd-agent-activate"' in html
        on = await client.post(
            f"/settings/agents/{cast.bob.id}", data={"csrf": csrf, "action": "activate"}
        )
        assert on.status_code == 303
        async with runtime.db.session() as session:
            assert (await session.get(Agent, cast.bob.id)).active is True  # type: ignore[union-attr]

    async def test_the_last_admin_stays(self, client, cast):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/settings/agents"))
        response = await client.post(
            f"/settings/agents/{cast.ada.id}",
            data={"csrf": csrf, "action": "role", "role": "agent"},
        )
        assert response.status_code == 422
        assert "At least one active admin must remain." in response.text


class TestTeams:
    async def test_create_rename_and_members(self, client, cast):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/settings/teams"))
        created = await client.post(
            "/settings/teams",
            data={"csrf": csrf, "name": "VIP", "agent_ids": [str(cast.alice.id)]},
        )
        assert created.status_code == 303
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        vip = next(t for t in teams if t["name"] == "VIP")
        assert vip["agent_ids"] == [cast.alice.id]
        saved = await client.post(
            f"/settings/teams/{vip['id']}",
            data={"csrf": csrf, "name": "VIP desk", "agent_ids": [str(cast.bob.id)]},
        )
        assert saved.status_code == 303
        teams = (await client.get("/api/v1/teams", headers=cast.ada.headers)).json()
        assert {"id": vip["id"], "name": "VIP desk", "agent_ids": [cast.bob.id]} in teams

    async def test_a_duplicate_name_is_explained(self, client, cast):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/settings/teams"))
        response = await client.post("/settings/teams", data={"csrf": csrf, "name": "Support"})
        assert response.status_code == 422
        assert "A team with this name exists already." in response.text


class TestProfile:
    async def test_name_language_and_signature(self, client, cast, runtime):
        await log_in(client, cast.alice)
        csrf = csrf_of(await page(client, "/profile"))
        saved = await client.post(
            "/profile",
            data={"csrf": csrf, "name": "Alice A.", "language": "ar",
                  "signature": "Alice\nSupport"},
        )  # fmt: skip
        assert saved.status_code == 303
        html = await page(client, "/profile")
        assert 'dir="rtl"' in html and "Alice\nSupport</textarea>" in html

    async def test_password_change_needs_the_current_one(self, client, cast):
        await log_in(client, cast.alice)
        csrf = csrf_of(await page(client, "/profile"))
        wrong = await client.post(
            "/profile/password",
            data={"csrf": csrf, "current_password": "nope-nope-nope", "new_password": STRONG,
                  "new_password_again": STRONG},
        )  # fmt: skip
        assert wrong.status_code == 422 and "The current password is not right." in wrong.text
        right = await client.post(
            "/profile/password",
            data={"csrf": csrf, "current_password": cast.alice.password,
                  "new_password": STRONG, "new_password_again": STRONG},
        )  # fmt: skip
        assert right.status_code == 303
        # This browser session stays; the API token ended.
        assert (await client.get("/profile")).status_code == 200
        assert (await client.get("/api/v1/me", headers=cast.alice.headers)).status_code == 401

    async def test_tokens_shown_once_listed_by_prefix_and_revoked(self, client, cast):
        await log_in(client, cast.alice)
        csrf = csrf_of(await page(client, "/profile"))
        created = await client.post("/profile/tokens", data={"csrf": csrf, "name": "reports"})
        token = re.search(r'data-testid="fd-token-value"', created.text) and re.search(
            r'value="(fd_[^"]+)" data-testid="fd-token-value"', created.text
        )
        assert token, created.text
        value = token.group(1)
        listing = await page(client, "/profile")
        assert value not in listing and value[:10] in listing
        headers = {"Authorization": f"Bearer {value}"}
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
        [row] = [t for t in (await client.get("/api/v1/me/tokens", headers=headers)).json()
                 if t["name"] == "reports"]  # fmt: skip
        revoked = await client.post(f"/profile/tokens/{row['id']}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 303
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401

    async def test_nobody_revokes_anothers_token_from_the_page(self, client, cast, runtime):
        from frontdesk.auth.models import ApiToken

        async with runtime.db.session() as session:
            bobs = await session.scalar(
                select(ApiToken.id).where(ApiToken.agent_id == cast.bob.id, ApiToken.kind == "api")
            )
        await log_in(client, cast.alice)
        csrf = csrf_of(await page(client, "/profile"))
        response = await client.post(f"/profile/tokens/{bobs}/revoke", data={"csrf": csrf})
        assert response.status_code == 404
        assert (await client.get("/api/v1/me", headers=cast.bob.headers)).status_code == 200

    @pytest.mark.parametrize("lang", ["ar", "fa"])
    async def test_pages_in_arabic_and_persian(self, client, cast, lang):
        await log_in(client, cast.ada)
        csrf = csrf_of(await page(client, "/"))
        await client.post("/me/language", data={"language": lang, "csrf": csrf})
        words = catalogue(lang)
        for path, title in (("/settings/agents", "Agents"), ("/settings/teams", "Teams"),
                            ("/profile", "Profile")):  # fmt: skip
            html = await page(client, path)
            assert words[title] in html and 'dir="rtl"' in html
