# ruff: noqa: RUF001  (Arabic and Persian samples)
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.kit.errors import Invalid
from frontdesk.kit.text import (
    classify_address,
    light_stem,
    normalize_email,
    normalize_phone,
    one_line,
    raw_address,
    stemmed_tokens,
    storable,
    storable_json,
)


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

    @pytest.mark.parametrize(
        "raw", ["", "   ", "a@b@c", "x@", "@example.com", "+1 (55", "a\x07b", "a\x00b", "a\ud800b"]
    )
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


def test_a_number_seen_again_is_normalised_from_memory_and_a_bad_one_refused_again():
    from frontdesk.kit import text

    before = text._normalized_phone.cache_info().hits
    for _ in range(3):
        assert normalize_phone("09121234567", "IR") == "+989121234567"
        with pytest.raises(Invalid):
            normalize_phone("+1 2")
    assert text._normalized_phone.cache_info().hits - before >= 2


class TestStorable:
    def test_nul_and_lone_surrogates_become_replacement_characters(self):
        assert storable("a\x00b") == "a\ufffdb"
        assert storable("مرحبا\ud800!\udcff") == "مرحبا\ufffd!\ufffd"
        assert storable("plain ascii") == "plain ascii"
        assert storable("سلام 👋") == "سلام 👋"  # real text, astral characters included

    def test_every_string_of_a_json_value(self):
        assert storable_json({"k\x00": ["v\x00", 1, None, {"x": "\ud800"}]}) == {
            "k\ufffd": ["v\ufffd", 1, None, {"x": "\ufffd"}]
        }

    @given(st.text())
    def test_the_result_always_encodes_and_holds_no_nul(self, value):
        clean = storable(value)
        assert "\x00" not in clean
        clean.encode("utf-8")
        assert storable(clean) == clean


class TestAddresses:
    def test_the_root_dot_of_a_domain_is_the_same_address(self):
        assert normalize_email("Someone@Yahoo.com.") == "someone@yahoo.com"

    @pytest.mark.parametrize(
        ("written", "kept"),
        [
            (
                '"Millions Lottery Spain transfer"@example.com',
                '"millions lottery spain transfer"@example.com',
            ),
            ("redacted@redacted", "redacted@redacted"),
            ("Test  test@Example.com", "test test@example.com"),
            ("a\x00\u202eb@x", "ab@x"),
            ("\x00", "(none)"),
        ],
    )
    def test_an_unreadable_sender_is_kept_as_a_raw_identity(self, written, kept):
        assert raw_address(written) == ("raw", kept)


class TestOneLine:
    @pytest.mark.parametrize("value", ["a\r\nBcc: x@y", "a\nb", "a\x00", "tab\there"])
    def test_line_breaks_and_control_characters_are_refused(self, value):
        with pytest.raises(ValueError):
            one_line(value)

    def test_a_name_in_any_script_passes(self):
        assert one_line("لیلا حداد (Layla)") == "لیلا حداد (Layla)"


class TestLightStem:
    @pytest.mark.parametrize(
        ("word", "stem"),
        [
            ("والكتاب", "كتاب"),  # and + the + book
            ("كتابها", "كتاب"),  # her book
            ("المكتبات", "مكتب"),  # the libraries
            ("للطلاب", "طلاب"),  # for the students
            ("مدرسون", "مدرس"),  # teachers
            ("مكتبه", "مكتب"),  # ta marbuta, folded to heh
            ("ولد", "ولد"),  # three letters: "w" is the word's own
            ("و", "و"),
            ("ال", "ال"),
            ("reset", "reset"),
            ("١٢٣", "١٢٣"),
        ],
    )
    def test_strips_arabic_affixes_only_while_two_letters_are_left(self, word, stem):
        assert light_stem(word) == stem

    def test_the_full_text_words_are_folded_then_stemmed(self):
        # Persian plural with a zero-width non-joiner and Persian kaf: folded, then stemmed.
        assert stemmed_tokens("کتاب‌ها والكتاب Reset") == ["كتاب", "كتاب", "reset"]
