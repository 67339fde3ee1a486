"""SMS segment counting (GSM 03.38 / UCS-2) and the opt-out keywords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.kit.sms import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    count_segments,
    is_gsm7,
    keyword_of,
    sender_address,
)


class TestGsm7:
    @pytest.mark.parametrize(
        ("length", "segments", "per_segment"),
        [(0, 1, 160), (1, 1, 160), (160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153)],
    )
    def test_plain_text_is_160_alone_then_153_per_part(self, length, segments, per_segment):
        counted = count_segments("a" * length)
        assert counted.encoding == "GSM-7"
        assert (counted.units, counted.segments, counted.per_segment) == (
            length,
            segments,
            per_segment,
        )

    def test_extension_characters_count_two(self):
        counted = count_segments("€[]{}")
        assert counted.encoding == "GSM-7"
        assert counted.units == 10
        assert count_segments("€" * 80).segments == 1
        assert count_segments("€" * 81).segments == 2

    def test_an_escape_pair_is_never_split_across_parts(self):
        # 152 plain septets then "€": the pair cannot start at septet 153 of part one.
        text = "a" * 152 + "€" + "a" * 10
        counted = count_segments(text)
        assert counted.units == 164
        assert counted.segments == 2

    def test_accented_letters_of_the_gsm_table_stay_gsm7(self):
        assert count_segments("Ça coûte 5€? Déjà réglé.").encoding == "UCS-2"  # û is not GSM
        assert count_segments("Ça coute 5€? Déjà réglé.").encoding == "GSM-7"

    def test_remaining_counts_down_to_the_next_segment(self):
        assert count_segments("hello").remaining == 155
        assert count_segments("a" * 161).remaining == 2 * 153 - 161


class TestUcs2:
    @pytest.mark.parametrize(
        ("text", "units", "segments"),
        [
            ("سلام، سفارش من کجاست؟", 21, 1),  # Persian
            ("مرحبا، أين طلبي؟", 16, 1),  # Arabic
            ("س" * 70, 70, 1),
            ("س" * 71, 71, 2),
            ("ب" * 134, 134, 2),
            ("ب" * 135, 135, 3),
        ],
    )
    def test_arabic_and_persian_are_70_alone_then_67_per_part(self, text, units, segments):
        counted = count_segments(text)
        assert counted.encoding == "UCS-2"
        assert (counted.units, counted.segments) == (units, segments)
        assert counted.per_segment == (70 if segments == 1 else 67)

    def test_one_non_gsm_character_makes_the_whole_text_ucs2(self):
        assert count_segments("a" * 100 + "ی").segments == 2  # 101 > 70

    def test_emoji_take_two_units_and_are_never_split(self):
        assert count_segments("😀" * 35).units == 70
        assert count_segments("😀" * 35).segments == 1
        # 33 emoji = 66 units in part one; the 34th would straddle 67 → it starts part two.
        assert count_segments("😀" * 36).segments == 2
        assert count_segments("a" + "😀" * 67).segments == 3


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENDED), max_size=600))
def test_gsm7_segments_cover_every_septet(text):
    counted = count_segments(text)
    assert is_gsm7(text)
    assert counted.units == sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    capacity = 160 if counted.segments == 1 else 153 * counted.segments
    assert counted.units <= capacity


@given(st.text(max_size=300))
def test_segments_never_undercount_any_text(text):
    counted = count_segments(text)
    single = 160 if counted.encoding == "GSM-7" else 70
    part = 153 if counted.encoding == "GSM-7" else 67
    assert counted.segments >= 1
    assert counted.units <= (single if counted.segments == 1 else part * counted.segments)
    if counted.segments > 1:
        assert counted.units > single


class TestKeywords:
    @pytest.mark.parametrize(
        ("text", "keyword"),
        [
            ("STOP", "stop"), (" stop ", "stop"), ("Stop.", "stop"), ("UNSUBSCRIBE", "stop"),
            ("cancel", "stop"), ("End", "stop"), ("quit", "stop"), ("stopall", "stop"),
            ("START", "start"), ("unstop", "start"), ("Help", "help"), ("help!", "help"),
            # Arabic
            ("توقف", "stop"), ("إيقاف", "stop"), ("ايقاف", "stop"), ("إلغاء", "stop"),
            ("الغاء", "stop"), ("ابدأ", "start"), ("ابدا", "start"), ("بدء", "start"),
            ("مساعدة", "help"), ("مساعده", "help"), ("توقّف", "stop"),
            # Persian (with Arabic-keyboard letters too)
            ("لغو", "stop"), ("شروع", "start"), ("راهنما", "help"), (" راهنما ", "help"),
        ],
    )  # fmt: skip
    def test_keywords_in_english_arabic_and_persian(self, text, keyword):
        assert keyword_of(text) == keyword

    @pytest.mark.parametrize(
        "text", ["stop sending me ads", "please stop", "", "where is my order?", "توقف لطفا"]
    )
    def test_a_sentence_is_not_a_keyword(self, text):
        assert keyword_of(text) is None


class TestSenderAddress:
    def test_national_numbers_read_in_the_inboxs_region(self):
        assert sender_address("050 123 4567", "AE") == "+971501234567"
        assert sender_address("۰۹۱۲۳۴۵۶۷۸۹", "IR") == "+989123456789"
        assert sender_address("+1 (415) 555-0100", "IR") == "+14155550100"

    def test_short_codes_and_sender_ids_are_kept(self):
        assert sender_address(" 12345 ", "US") == "12345"
        assert sender_address("ACME", "US") == "ACME"
