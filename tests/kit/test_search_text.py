# ruff: noqa: RUF001  (Arabic and Persian letters are the samples)
"""Search keys: the same word typed in Arabic or Persian conventions, with or without
diacritics, zero-width non-joiners or native digits, folds to one key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.kit.text import search_key, search_tokens


class TestSearchKey:
    @pytest.mark.parametrize(
        "variants",
        [
            ("كتاب", "کتاب"),  # Arabic kaf / Persian keheh
            ("مي‌خواهم", "میخواهم", "مى‌خواهم"),  # ZWNJ, Arabic / Persian ya
            ("١٢٣", "۱۲۳", "123"),  # Arabic-Indic, Persian and ASCII digits
            ("أحمد", "إحمد", "احمد", "آحمد"),  # alef with hamza above, below, madda
            ("مدرسة", "مدرسه"),  # ta marbuta / heh
            ("كِتَابٌ", "كتاب"),  # harakat
            ("ســـلام", "سلام"),  # tatweel
            ("علی", "على", "علي"),  # Persian ye, alef maksura, Arabic ya
            ("مسئول", "مسيول"),  # hamza on ya
            ("سؤال", "سوال"),  # hamza on waw
            ("خانۀ", "خانه"),  # heh with hamza
            ("Café", "CAFE", "cafe"),  # accents and case
            ("Straße", "STRASSE"),  # full case folding
            ("ﻛﺘﺎﺏ", "كتاب"),  # presentation forms
        ],
    )
    def test_variants_share_one_key(self, variants):
        assert len({search_key(v) for v in variants}) == 1

    def test_keeps_marks_that_carry_meaning(self):
        assert search_key("नमस्ते") != search_key("नमसत")
        assert search_key("が") != search_key("か")

    def test_bidi_controls_and_soft_hyphen_vanish(self):
        assert search_key("re\u00adfund\u200f") == "refund"
        assert search_key("\u2067فاکتور\u2069") == search_key("فاكتور")

    @given(st.text(max_size=60))
    def test_idempotent(self, value):
        once = search_key(value)
        assert search_key(once) == once

    @given(st.text(alphabet=st.characters(min_codepoint=0x0600, max_codepoint=0x06FF), max_size=30))
    def test_idempotent_on_arabic_script(self, value):
        once = search_key(value)
        assert search_key(once) == once


class TestSearchTokens:
    def test_punctuation_separates_words(self):
        assert search_tokens("Where's my refund? (order #١٢)") == [
            "where",
            "s",
            "my",
            "refund",
            "order",
            "12",
        ]

    def test_arabic_punctuation_separates_words(self):
        assert search_tokens("سلام،چطوری؟") == ["سلام", "چطوري"]

    def test_chinese_characters_are_words(self):
        assert search_tokens("订机票") == ["订", "机", "票"]

    @given(st.text(max_size=60))
    def test_tokens_are_keys(self, value):
        for token in search_tokens(value):
            assert token and search_key(token) == token
