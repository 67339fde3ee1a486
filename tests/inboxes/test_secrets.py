"""The webhooks' opened inboxes (inboxes.secrets.opened_cached): sealed secrets opened once
per row of the process's inbox cache, not on every request."""

from __future__ import annotations

import secrets

from frontdesk.config import Settings
from frontdesk.inboxes.models import Inbox
from frontdesk.inboxes.secrets import opened_cached, seal_settings
from frontdesk.kit import crypto

TOKEN = "c" * 32


def row(app: Settings) -> Inbox:
    settings = seal_settings("sms", {"account_sid": "AC" + "b" * 32, "auth_token": TOKEN}, app)
    assert crypto.is_sealed(settings["auth_token"])
    return Inbox(id=7, name="sms", channel="sms", settings=settings, secret="s", active=True)


def test_a_cached_row_is_opened_once(tmp_path):
    app = Settings(data_dir=tmp_path, secret_key=secrets.token_hex(32))
    cached = row(app)
    first = opened_cached(cached, app)
    assert first.settings["auth_token"] == TOKEN
    assert crypto.is_sealed(cached.settings["auth_token"])  # the cached row stays sealed
    # The same opened copy (opening makes a new copy each time): nothing decrypted again.
    assert opened_cached(cached, app) is first
    # A changed inbox is a new row in the cache: opened anew.
    again = opened_cached(row(app), app)
    assert again is not first and again.settings["auth_token"] == TOKEN


def test_another_secret_key_opens_again(tmp_path):
    app = Settings(data_dir=tmp_path, secret_key=secrets.token_hex(32))
    cached = row(app)
    first = opened_cached(cached, app)
    other = Settings(data_dir=tmp_path, secret_key=secrets.token_hex(32))
    try:
        opened_cached(cached, other)
    except crypto.SealError:
        pass  # not opened from the other key's memory: it cannot open the value
    else:
        raise AssertionError("opened with another SECRET_KEY")
    assert opened_cached(cached, app) is first


def test_a_row_with_nothing_sealed_is_its_own_opened_inbox(tmp_path):
    app = Settings(data_dir=tmp_path, secret_key=secrets.token_hex(32))
    plain = Inbox(id=8, name="api", channel="api", settings={"x": 1}, secret="s", active=True)
    assert opened_cached(plain, app) is plain
