# ruff: noqa: RUF001  (Arabic digits in a prompt)
"""The voice inbox's settings page (generated from its schema): an admin creates the inbox
in the desktop, with its menu, hours and prompts, and reads the webhook URL to paste into the
provider's console; the auth token never comes back into the page."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_inbox
from tests.channels.voice.conftest import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER
from tests.web.test_views import csrf_of, log_in


class TestSettingsPage:
    async def test_an_admin_creates_a_voice_inbox_in_the_desktop(
        self, client, runtime, cast, provider
    ):
        await log_in(client, cast.ada)
        page = await client.get("/settings/inboxes/new?channel=voice")
        assert page.status_code == 200
        for name in ("account_sid", "auth_token", "phone_number", "api_base_url",
                     "queue_choices", "hold_music_url", "opens_at", "ar.menu_text",
                     "fa.voicemail_audio_url"):  # fmt: skip
            assert f'name="s.{name}"' in page.text, name
        form = [
            ("csrf", csrf_of(page.text)), ("channel", "voice"), ("name", "Phone line"),
            ("s.account_sid", ACCOUNT_SID), ("s.auth_token", AUTH_TOKEN),
            ("s.phone_number", OUR_NUMBER), ("s.api_base_url", provider.base_url),
            ("s.default_region", "AE"), ("s.languages", "ar"), ("s.languages", "en"),
            ("s.queue_choices", "1=4 Sales\n2=5 Support"), ("s.open_days", "sun"),
            ("s.open_days", "mon"), ("s.opens_at", "08:30"), ("s.closes_at", "18:00"),
            ("s.timezone", "Asia/Dubai"), ("s.record_calls", "on"),
            ("s.voicemail_max_seconds", "90"), ("s.ar.menu_text", "للمبيعات اضغط ١"),
        ]  # fmt: skip
        data: dict[str, list[str]] = {}
        for key, value in form:
            data.setdefault(key, []).append(value)
        created = await client.post("/settings/inboxes/new", data=data, follow_redirects=False)
        assert created.status_code == 303, created.text
        shown = await client.get(created.headers["location"])
        assert AUTH_TOKEN not in shown.text
        async with runtime.db.session() as session:
            inbox = await session.scalar(select(Inbox).where(Inbox.channel == "voice"))
        assert inbox is not None
        assert f"/webhooks/voice/{inbox.id}" in shown.text
        conf = opened_inbox(inbox, runtime.settings).settings
        assert conf["auth_token"] == AUTH_TOKEN
        assert conf["languages"] == ["ar", "en"]
        assert conf["queue_choices"] == ["1=4 Sales", "2=5 Support"]
        assert (conf["opens_at"], conf["closes_at"], conf["timezone"]) == (
            "08:30", "18:00", "Asia/Dubai",
        )  # fmt: skip
        assert conf["ar"] == {"menu_text": "للمبيعات اضغط ١", "menu_audio_url": None,
                              "voicemail_text": None, "voicemail_audio_url": None}  # fmt: skip
        assert conf["fa"] is None

    async def test_a_bad_menu_line_is_refused_next_to_the_form(self, client, cast, provider):
        await log_in(client, cast.ada)
        page = await client.get("/settings/inboxes/new?channel=voice")
        form = {
            "csrf": csrf_of(page.text), "channel": "voice", "name": "Phone",
            "s.account_sid": ACCOUNT_SID, "s.auth_token": AUTH_TOKEN,
            "s.phone_number": OUR_NUMBER, "s.api_base_url": provider.base_url,
            "s.languages": "en", "s.queue_choices": "sales please",
        }  # fmt: skip
        refused = await client.post("/settings/inboxes/new", data=form)
        assert refused.status_code == 422
        assert 'id="fd-set-s-queue-choices" rows="3" dir="ltr" aria-invalid="true"' in refused.text
