"""The routing expression language: parsing, evaluation, clear errors, no eval."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.routing.expressions import ExpressionError, parse

ALICE: dict[str, Any] = {
    "skills": {"billing": 4, "refunds": 2},
    "languages": ["ar", "en"],
    "location": "cairo",
    "tier": "L2",
    "teams": ["Support"],
    "vip": True,
}


class TestEvaluation:
    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("skills HAS 'billing' AND languages HAS 'ar'", True),
            ("skills HAS 'billing' AND languages HAS 'fa'", False),
            ("skills HAS 'voice' OR languages HAS 'en'", True),
            ("NOT skills HAS 'voice'", True),
            ("skills.billing >= 3", True),
            ("skills.refunds > 2", False),
            ("skills.missing > 0", False),
            ("tier IN ['L2', 'L3']", True),
            ("tier in ['L1']", False),
            ("languages HAS ['ar', 'en']", True),
            ("languages HAS ['ar', 'fa']", False),
            ('location == "cairo"', True),
            ("location = 'tehran'", False),
            ("location != 'tehran'", True),
            ("vip", True),
            ("vip == TRUE", True),
            ("nothing == NULL", True),
            ("(tier == 'L1' OR tier == 'L2') AND NOT (location == 'remote')", True),
            ("1 < 2 AND 2.5 >= 2.5 AND -1 < 0", True),
            ("'ca' IN location", True),
            ("teams HAS 'Support'", True),
        ],
    )
    def test_matches(self, source: str, expected: bool) -> None:
        assert parse(source).matches(ALICE) is expected

    def test_and_binds_tighter_than_or(self) -> None:
        assert parse("TRUE OR TRUE AND FALSE").matches({}) is True
        assert parse("(TRUE OR TRUE) AND FALSE").matches({}) is False

    def test_mismatched_kinds_are_false_not_errors(self) -> None:
        assert parse("tier > 3").matches(ALICE) is False
        assert parse("skills HAS 3").matches({"skills": "abc"}) is False
        assert parse("skills HAS ['a']").matches({"skills": {"a": 1}}) is True
        assert parse("1 == '1'").matches({}) is False
        assert parse("TRUE == 1").matches({}) is False

    def test_names_are_collected(self) -> None:
        assert parse("skills.billing > 1 AND tier IN ['L1']").names == {"skills.billing", "tier"}

    def test_never_evaluates_python(self) -> None:
        with pytest.raises(ExpressionError):
            parse("__import__('os').system('true')")
        assert parse("__class__").matches({}) is False


class TestErrors:
    @pytest.mark.parametrize(
        ("source", "position", "words"),
        [
            ("skills HAS", 10, "expected a value"),
            ("skills HAS 'billing' AND", 24, "expected a value"),
            ("(tier == 'L1'", 13, "expected ')'"),
            ("tier == 'L1')", 12, "operator or the end"),
            ("tier ~ 'L1'", 5, "unexpected character '~'"),
            ("tier IN ['a' 'b']", 13, "',' or ']'"),
            ("skills HAS 'unterminated", 11, "unexpected character"),
            ("", 0, "empty"),
        ],
    )
    def test_syntax_error_names_position(self, source: str, position: int, words: str) -> None:
        with pytest.raises(ExpressionError) as caught:
            parse(source)
        assert caught.value.position == position
        assert words in str(caught.value)
        assert caught.value.code == "invalid_expression"

    def test_deep_nesting_is_refused(self) -> None:
        with pytest.raises(ExpressionError, match="nested too deeply"):
            parse("(" * 200 + "TRUE" + ")" * 200)
        with pytest.raises(ExpressionError, match="nested too deeply"):
            parse("NOT " * 200 + "TRUE")

    def test_overlong_is_refused(self) -> None:
        with pytest.raises(ExpressionError, match="longer than"):
            parse("TRUE OR " * 400 + "TRUE")


_names = st.sampled_from(["tier", "location", "skills", "languages", "vip", "level"])
_values = st.one_of(
    st.integers(-5, 5).map(str), st.sampled_from(["'L1'", "'L2'", "'ar'", "'billing'"])
)
_atoms = st.one_of(
    st.tuples(_names, st.sampled_from(["==", "!=", "<", ">=", "HAS", "IN"]), _values).map(" ".join),
    st.sampled_from(["TRUE", "FALSE", "vip"]),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["AND", "OR"]), children).map(" ".join),
        children.map(lambda inner: f"NOT ({inner})"),
        children.map(lambda inner: f"({inner})"),
    )


_expressions = st.recursive(_atoms, _combine, max_leaves=12)
_envs = st.fixed_dictionaries(
    {
        "tier": st.sampled_from(["L1", "L2", "L3"]),
        "location": st.sampled_from(["cairo", "tehran"]),
        "skills": st.dictionaries(st.sampled_from(["billing", "voice"]), st.integers(1, 5)),
        "languages": st.lists(st.sampled_from(["ar", "en", "fa"]), unique=True),
        "vip": st.booleans(),
        "level": st.integers(-5, 5),
    }
)


class TestProperties:
    @given(_expressions, _envs)
    def test_any_generated_expression_parses_and_evaluates_to_a_bool(
        self, source: str, env: dict[str, Any]
    ) -> None:
        assert parse(source).matches(env) in (True, False)

    @given(_expressions, _envs)
    def test_not_negates(self, source: str, env: dict[str, Any]) -> None:
        assert parse(f"NOT ({source})").matches(env) is not parse(source).matches(env)

    @given(_expressions, _expressions, _envs)
    def test_de_morgan(self, a: str, b: str, env: dict[str, Any]) -> None:
        left = parse(f"NOT (({a}) AND ({b}))").matches(env)
        assert left is parse(f"NOT ({a}) OR NOT ({b})").matches(env)

    @given(st.text(max_size=60))
    def test_arbitrary_text_parses_or_fails_with_a_position(self, source: str) -> None:
        try:
            parse(source).matches({})
        except ExpressionError as error:
            assert 0 <= error.position <= len(source)
