from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.kit.errors import Invalid
from frontdesk.kit.text import classify_address, normalize_email, normalize_phone


class TestClassify:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("Layla@Example.COM", ("email", "layla@example.com")),
            ("  john@example.net ", ("email", "john@example.net")),
            ("+44 20 7946 0958", ("phone", "+442079460958")),
            ("+98 (912) 345-6789", ("phone", "+989123456789")),
            ("visitor-42", ("api", "visitor-42")),
            ("کاربر۱۲", ("api", "کاربر۱۲")),
        ],
    )
    def test_recognises_kinds(self, raw, expected):
        assert classify_address(raw, handle_kind="api") == expected

    @pytest.mark.parametrize("raw", ["", "   ", "a@b@c", "x@", "@example.com", "+1 (55", "a\x07b"])
    def test_refuses_invalid(self, raw):
        with pytest.raises(Invalid):
            classify_address(raw, handle_kind="api")


@given(st.emails())
def test_email_normalisation_is_idempotent(address):
    try:
        once = normalize_email(address)
    except Invalid:
        return
    assert normalize_email(once) == once == once.lower()


def test_phone_normalises_to_e164():
    assert normalize_phone("+1 (202) 555-0143") == "+12025550143"
    with pytest.raises(Invalid):
        normalize_phone("+1 2")
