"""Settings pages (admins only): the inbox list with readable channel names, create through
the generated form, edit without re-typing secrets, disable and enable, Test connection
inline, the words of every page in Arabic and Persian, and secrets never in the HTML."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import select

from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.port import channel_plugins, secret_settings
from frontdesk.inboxes.secrets import opened
from frontdesk.kit.i18n import catalogue
from frontdesk.web import settings_text
from tests.channels.telegram.conftest import TOKEN, FakeBotApi
from tests.conftest import serve_app
from tests.web.test_views import csrf_of, log_in

ACCESS_TOKEN = "EAAGsecret-access-token-0123456789"
APP_SECRET = "app-secret-0123456789abcdef"


def whatsapp_form(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf": csrf, "channel": "whatsapp", "name": "WhatsApp Sales",
        "s.phone_number_id": "106540352242922", "s.access_token": ACCESS_TOKEN,
        "s.app_secret": APP_SECRET, "s.api_base_url": "http://127.0.0.1:9/v21.0",
        "s.verify_token": "", "s.default_region": "", **changes,
    }  # fmt: skip


async def open_as(client, person, path: str = "/settings/inboxes") -> str:  # type: ignore[no-untyped-def]
    await log_in(client, person)
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return str(page.text)


async def stored(runtime, inbox_id: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    async with runtime.db.session() as session:
        inbox = await session.get(Inbox, inbox_id)
        assert inbox is not None
        return {"name": inbox.name, "active": inbox.active, **opened(inbox, runtime.settings)}


async def create_whatsapp(client, cast, **changes: str) -> int:  # type: ignore[no-untyped-def]
    html = await open_as(client, cast.ada, "/settings/inboxes/new?channel=whatsapp")
    response = await client.post(
        "/settings/inboxes/new", data=whatsapp_form(csrf_of(html), **changes)
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[-1].split("?")[0])


class TestAccess:
    @pytest.mark.parametrize("who", ["alice", "sara"])
    async def test_only_admins(self, client, cast, who):
        await log_in(client, getattr(cast, who))
        for path in ("/settings", "/settings/inboxes", f"/settings/inboxes/{cast.website.id}"):
            assert (await client.get(path)).status_code == 403, path
        home = await client.get("/")
        assert 'href="/settings"' not in home.text
        csrf = csrf_of(home.text)
        posted = await client.post(
            f"/settings/inboxes/{cast.website.id}/active", data={"csrf": csrf, "active": "false"}
        )
        assert posted.status_code == 403

    async def test_admins_find_it_in_the_navigation(self, client, cast):
        html = await open_as(client, cast.ada, "/")
        assert 'data-testid="fd-nav-settings"' in html

    async def test_a_form_without_its_token_is_refused(self, client, cast, runtime):
        await open_as(client, cast.ada)
        response = await client.post(
            f"/settings/inboxes/{cast.website.id}/active", data={"csrf": "x", "active": "false"}
        )
        assert response.status_code == 401
        assert (await stored(runtime, cast.website.id))["active"] is True


class TestList:
    async def test_channels_by_name_and_status(self, client, cast, runtime):
        html = await open_as(client, cast.ada)
        assert html.count('data-testid="fd-settings-inbox-row"') == 2
        assert "API" in html and "Enabled" in html

    async def test_in_arabic(self, client, cast):
        await log_in(client, cast.ada)
        page = await client.get("/")
        await client.post("/me/language", data={"language": "ar", "csrf": csrf_of(page.text)})
        html = (await client.get("/settings/inboxes/new")).text
        assert 'dir="rtl"' in html
        assert catalogue("ar")["Website chat"] in html
        assert ">webchat<" not in html


class TestForms:
    async def test_every_installed_channel_has_its_form(self, client, cast):
        await log_in(client, cast.ada)
        picker = (await client.get("/settings/inboxes/new")).text
        for plugin in channel_plugins():
            assert f'data-testid="fd-channel-{plugin.name}"' in picker
            html = (await client.get(f"/settings/inboxes/new?channel={plugin.name}")).text
            schema = plugin.settings_schema.model_json_schema() if plugin.settings_schema else {}
            for name in schema.get("required", []):
                assert f'name="s.{name}"' in html, (plugin.name, name)
            for name in secret_settings(plugin.name):
                assert f'name="s.{name}" id="fd-set-s-{name.replace("_", "-")}"' in html


class TestCreateAndEdit:
    async def test_whatsapp_round_trip_keeps_secrets_out_of_the_page(self, client, cast, runtime):
        inbox_id = await create_whatsapp(client, cast)
        kept = await stored(runtime, inbox_id)
        assert (kept["access_token"], kept["app_secret"]) == (ACCESS_TOKEN, APP_SECRET)
        page = (await client.get(f"/settings/inboxes/{inbox_id}?created=1")).text
        assert ACCESS_TOKEN not in page and APP_SECRET not in page
        assert page.count('data-testid="fd-secret-state"') == 2 and "not set" not in page
        assert f"/webhooks/whatsapp/{inbox_id}" in page
        assert kept["verify_token"] in page  # readable by design: pasted into Meta's console
        # Edit: a new name and address; the secrets' fields stay empty and are kept.
        form = whatsapp_form(csrf_of(page), name="WhatsApp Support",
                             **{"s.access_token": "", "s.app_secret": "",
                                "s.api_base_url": "http://127.0.0.1:10/v21.0",
                                "s.verify_token": kept["verify_token"]})  # fmt: skip
        form.pop("channel")
        saved = await client.post(f"/settings/inboxes/{inbox_id}", data=form)
        assert saved.status_code == 303, saved.text
        after = await stored(runtime, inbox_id)
        assert after["name"] == "WhatsApp Support"
        assert after["api_base_url"] == "http://127.0.0.1:10/v21.0"
        assert (after["access_token"], after["app_secret"]) == (ACCESS_TOKEN, APP_SECRET)

    async def test_email_relay_password_survives_an_edit(self, client, cast, runtime):
        html = await open_as(client, cast.ada, "/settings/inboxes/new?channel=email")
        assert 'data-testid="fd-block-imap"' in html and 'data-testid="fd-block-smtp"' in html
        form = {"csrf": csrf_of(html), "channel": "email", "name": "Mail",
                "s.address": "help@frontdesk.test", "s.smtp.host": "127.0.0.1",
                "s.smtp.port": "2525", "s.smtp.username": "relay",
                "s.smtp.password": "relay-secret-pw", "s.smtp.security": "none",
                "s.smtp.verify_tls": "on", "s.smtp.timeout_seconds": "30",
                "s.imap.security": "tls", "s.imap.folder": "INBOX",
                "s.outbound_per_minute": "60", "s.reply_token": "on"}  # fmt: skip
        created = await client.post("/settings/inboxes/new", data=form)
        assert created.status_code == 303, created.text
        inbox_id = int(created.headers["location"].split("/")[-1].split("?")[0])
        kept = await stored(runtime, inbox_id)
        assert kept["imap"] is None and kept["smtp"]["password"] == "relay-secret-pw"
        page = (await client.get(f"/settings/inboxes/{inbox_id}")).text
        assert "relay-secret-pw" not in page
        form.pop("channel")
        saved = await client.post(
            f"/settings/inboxes/{inbox_id}",
            data={**form, "csrf": csrf_of(page), "s.smtp.password": "", "s.smtp.port": "2626"},
        )
        assert saved.status_code == 303, saved.text
        after = (await stored(runtime, inbox_id))["smtp"]
        assert (after["port"], after["password"]) == (2626, "relay-secret-pw")

    async def test_an_api_inbox_shows_its_secret_once(self, client, cast, runtime):
        html = await open_as(client, cast.ada, "/settings/inboxes/new?channel=api")
        response = await client.post(
            "/settings/inboxes/new",
            data={
                "csrf": csrf_of(html),
                "channel": "api",
                "name": "Shop",
                "s.webhook_url": "http://127.0.0.1:9/hook",
            },
        )
        assert response.status_code == 200
        async with runtime.db.session() as session:
            inbox = await session.scalar(select(Inbox).where(Inbox.name == "Shop"))
            assert inbox is not None
        assert 'data-testid="fd-created-secret"' in response.text
        assert inbox.secret in response.text
        later = (await client.get(f"/settings/inboxes/{inbox.id}")).text
        assert inbox.secret not in later
        assert f"/api/v1/inboxes/{inbox.id}/inbound" in later

    async def test_webchat_gives_the_embed_snippet_and_widget_settings(self, client, cast, runtime):
        html = await open_as(client, cast.ada, "/settings/inboxes/new?channel=webchat")
        for name in ("s.color", "s.text_color", "s.greeting", "s.language"):
            assert f'name="{name}"' in html, name
        response = await client.post(
            "/settings/inboxes/new",
            data={
                "csrf": csrf_of(html),
                "channel": "webchat",
                "name": "Site",
                "s.color": "#aa3300",
                "s.text_color": "#ffffff",
                "s.language": "fa",
                "s.greeting": "سلام! چطور کمک کنیم؟",
                "s.max_upload_bytes": "1000000",
                "s.prechat.fields": "email",
            },
        )
        assert response.status_code == 303, response.text
        page = (await client.get(response.headers["location"])).text
        inbox_id = response.headers["location"].split("/")[-1].split("?")[0]
        base = runtime.settings.base_url.rstrip("/")
        snippet = f'<script src="{base}/widget.js" data-inbox="{inbox_id}" async></script>'
        assert str(escape(snippet)) in page
        assert "#aa3300" in page and "سلام! چطور کمک کنیم؟" in page


class TestRefusals:
    async def test_errors_are_translated_next_to_the_field(self, client, cast):
        await log_in(client, cast.ada)
        home = await client.get("/")
        await client.post("/me/language", data={"language": "fa", "csrf": csrf_of(home.text)})
        html = (await client.get("/settings/inboxes/new?channel=whatsapp")).text
        response = await client.post(
            "/settings/inboxes/new",
            data=whatsapp_form(csrf_of(html), **{"s.phone_number_id": "not-a-number"}),
        )
        assert response.status_code == 422
        fa = catalogue("fa")
        assert fa[settings_text.FIELD_ERRORS["invalid"]] in response.text
        assert fa[settings_text.SETTINGS_ERRORS["invalid_settings"]] in response.text
        assert 'aria-invalid="true"' in response.text
        assert "should match pattern" not in response.text
        assert ACCESS_TOKEN not in response.text  # a refused form never echoes a secret
        assert 'value="WhatsApp Sales"' in response.text  # nor loses what was typed

    async def test_a_missing_required_field(self, client, cast):
        html = await open_as(client, cast.ada, "/settings/inboxes/new?channel=whatsapp")
        form = whatsapp_form(csrf_of(html))
        form.pop("s.app_secret")
        response = await client.post("/settings/inboxes/new", data=form)
        assert response.status_code == 422
        assert settings_text.FIELD_ERRORS["missing"] in response.text


class TestDisable:
    async def test_disable_then_enable(self, client, cast, runtime):
        html = await open_as(client, cast.ada, f"/settings/inboxes/{cast.website.id}")
        off = await client.post(
            f"/settings/inboxes/{cast.website.id}/active",
            data={"csrf": csrf_of(html), "active": "false"},
        )
        assert off.status_code == 303
        assert (await stored(runtime, cast.website.id))["active"] is False
        assert "Disabled" in (await client.get("/settings/inboxes")).text
        await client.post(
            f"/settings/inboxes/{cast.website.id}/active",
            data={"csrf": csrf_of(html), "active": "true"},
        )
        assert (await stored(runtime, cast.website.id))["active"] is True


class TestConnection:
    async def test_check_inline_then_refusal_in_arabic(self, client, cast):
        fake = FakeBotApi()
        async with serve_app(fake.app) as address:
            fake.address = address
            html = await open_as(client, cast.ada, "/settings/inboxes/new?channel=telegram")
            created = await client.post(
                "/settings/inboxes/new",
                data={"csrf": csrf_of(html), "channel": "telegram", "name": "Bot",
                      "s.bot_token": TOKEN, "s.mode": "webhook",
                      "s.api_base_url": fake.base_url, "s.poll_timeout_seconds": "25"},
            )  # fmt: skip
            assert created.status_code == 303, created.text
            page = (await client.get(created.headers["location"])).text
            assert TOKEN not in page
            inbox = created.headers["location"].split("/")[-1].split("?")[0]
            checked = await client.post(
                f"/settings/inboxes/{inbox}/check",
                data={"csrf": csrf_of(page)},
                headers={"HX-Request": "true"},
            )
            assert "Connection works." in checked.text and "@acme_support_bot" in checked.text
            registered = await client.post(
                f"/settings/inboxes/{inbox}/register", data={"csrf": csrf_of(page)}
            )
            assert 'data-testid="fd-register-ok"' in registered.text
            assert fake.webhook is not None or fake.sent("setWebhook")
            await client.post("/me/language", data={"language": "ar", "csrf": csrf_of(page)})
            fake.token = "1:revoked-token-revoked"
            refused = await client.post(
                f"/settings/inboxes/{inbox}/check", data={"csrf": csrf_of(page)}
            )
            assert catalogue("ar")[settings_text.SETTINGS_ERRORS["provider_refused"]] in (
                refused.text
            )
            assert '<bdi dir="ltr" class="provider-words">401: Unauthorized</bdi>' in refused.text


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_every_settings_word_is_translated(lang: str) -> None:
    words = {
        *settings_text.CHANNEL_NAMES.values(), *settings_text.CONSOLE_HINTS.values(),
        *settings_text.FIELD_LABELS.values(), *settings_text.SETTINGS_ERRORS.values(),
        *settings_text.FIELD_ERRORS.values(),
        *(v for v in settings_text.OPTION_LABELS.values() if v not in ("STARTTLS", "TLS")),
    }  # fmt: skip
    assert sorted(words - set(catalogue(lang))) == []
