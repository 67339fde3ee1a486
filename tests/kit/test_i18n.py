from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.kit.i18n import LANGUAGES, format_relative, format_when, localise_digits

# Around each of Babel's unit boundaries (0.85 of a unit, and the roundings in between).
EDGES = [
    0, 0.4, 0.5, 0.6, 1, 1.49, 1.5, 29.5, 50.9, 51, 59.5, 89.9, 90, 3059, 3060, 5399, 5400,
    73439, 73440, 86399, 86400, 129599, 129600, 514079, 514080, 2203199, 2203200, 26805599,
    26805600, 31535999, 31536000, 47304000, 10**9,
]  # fmt: skip


def babel_relative(delta: timedelta, lang: str) -> str:
    text = format_timedelta(delta, add_direction=True, format="short", locale=lang)
    return localise_digits(text, lang)


class TestFormatRelative:
    def test_words_every_boundary_as_babel_does(self):
        for lang in LANGUAGES:
            for seconds in EDGES:
                for sign in (1, -1):
                    delta = timedelta(seconds=sign * seconds)
                    assert format_relative(delta, lang) == babel_relative(delta, lang), (
                        lang,
                        sign * seconds,
                    )

    @given(
        st.floats(min_value=-4e8, max_value=4e8, allow_nan=False),
        st.sampled_from(LANGUAGES),
    )
    def test_words_any_delta_as_babel_does(self, seconds, lang):
        delta = timedelta(seconds=seconds)
        assert format_relative(delta, lang) == babel_relative(delta, lang)

    def test_writes_the_languages_digits(self):
        assert format_relative(timedelta(hours=-20), "fa") == "۲۰ ساعت پیش"
        assert format_relative(timedelta(hours=-20), "xx") == "20 hr. ago"


class TestFormatWhen:
    def test_same_moment_in_another_zone_is_written_in_that_zone(self):
        moment = datetime(2026, 12, 5, 13, 4, tzinfo=UTC)
        tehran = moment.astimezone(ZoneInfo("Asia/Tehran"))
        assert format_when(moment, "en") == "12/5/26, 1:04\u202fPM"
        assert format_when(tehran, "en") == "12/5/26, 4:34\u202fPM"
        assert format_when(moment, "en") == "12/5/26, 1:04\u202fPM"

    @given(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
        st.sampled_from(LANGUAGES),
    )
    def test_writes_as_babel_does(self, value, lang):
        moment = value.replace(tzinfo=UTC)
        expected = format_datetime(moment, "short", tzinfo=None, locale=lang)
        assert format_when(moment, lang) == localise_digits(expected, lang)
        assert format_when(moment, lang) == localise_digits(expected, lang)  # remembered

    @given(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
        st.sampled_from(["Asia/Tehran", "America/St_Johns", "Asia/Kathmandu", "Europe/Paris"]),
        st.sampled_from(LANGUAGES),
    )
    def test_writes_a_zoned_moment_as_babel_does(self, value, zone, lang):
        moment = value.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
        expected = format_datetime(moment, "short", tzinfo=None, locale=lang)
        assert format_when(moment, lang) == localise_digits(expected, lang)
