from __future__ import annotations

import pytest

from frontdesk.config import EXAMPLE_SECRET, InsecureSettings, Settings
from frontdesk.kit.errors import Invalid
from frontdesk.kit.security import (
    check_outbound_url,
    hash_password,
    safe_content_type,
    sanitize_html,
    sign,
    verify_password,
    verify_signature,
)


def test_signature_round_trip_and_tampering():
    signature = sign("s3cret", b'{"a":1}')
    assert signature.startswith("sha256=")
    assert verify_signature("s3cret", b'{"a":1}', signature)
    assert not verify_signature("s3cret", b'{"a":2}', signature)
    assert not verify_signature("other", b'{"a":1}', signature)
    assert not verify_signature("s3cret", b'{"a":1}', None)
    assert not verify_signature("s3cret", b'{"a":1}', signature.removeprefix("sha256="))


def test_passwords_are_argon2():
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("wrong", hashed)


@pytest.mark.parametrize(
    ("html", "forbidden"),
    [
        ("<script>alert(1)</script>ok", "script"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<p style="position:fixed">x</p>', "style"),
        ("<iframe src='https://evil'></iframe>", "iframe"),
        ("<svg><script>alert(1)</script></svg>", "script"),
    ],
)
def test_sanitiser_removes_active_content(html, forbidden):
    assert forbidden not in (sanitize_html(html) or "")


def test_sanitiser_keeps_text_and_direction():
    clean = sanitize_html('<p dir="rtl">سلام <b>دنیا</b></p>')
    assert clean == '<p dir="rtl">سلام <b>دنیا</b></p>'


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8000/",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "file:///etc/passwd",
        "gopher://example.com",
    ],
)
def test_ssrf_guard_refuses_internal_targets(url):
    with pytest.raises(Invalid):
        check_outbound_url(url)


def test_ssrf_guard_allows_private_when_configured():
    check_outbound_url("http://127.0.0.1:9/hook", allow_private=True)


def test_production_refuses_the_example_secret():
    with pytest.raises(InsecureSettings):
        Settings(env="production", secret_key=EXAMPLE_SECRET).check_production()
    with pytest.raises(InsecureSettings):
        Settings(env="production", secret_key="short").check_production()
    Settings(env="production", secret_key="x" * 32).check_production()
    Settings(env="development").check_production()


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("text/plain", "text/plain"),
        ("Image/PNG; name=x.png", "image/png"),
        ("application/vnd.ms-excel", "application/vnd.ms-excel"),
        ("text/plain\r\nX-Injected: 1", "application/octet-stream"),
        ("text/\x00plain", "application/octet-stream"),
        ("../../etc/passwd", "application/octet-stream"),
        ("", "application/octet-stream"),
        (None, "application/octet-stream"),
    ],
)
def test_content_types_are_bare_media_types(given, kept):
    assert safe_content_type(given) == kept
