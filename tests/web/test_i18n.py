"""Every UI string has an Arabic and a Persian translation; digits and direction follow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from frontdesk.channels.webchat.views import WIDGET_STRINGS
from frontdesk.kit.i18n import catalogue, direction, format_number, translator
from frontdesk.web.activity_text import ACTIVITY_STRINGS
from frontdesk.web.charts import CHART_STRINGS
from frontdesk.web.form_errors import CLOSED_WINDOW_TEXT, ERROR_TEXT
from frontdesk.web.inbox_views import WORKSPACE_ERRORS
from frontdesk.web.journey_chart import JOURNEY_STRINGS
from frontdesk.web.people_text import PEOPLE_STRINGS
from frontdesk.web.reports_views import TITLES as REPORT_TITLES
from frontdesk.web.staffing_views import TITLES as STAFFING_TITLES
from frontdesk.web.views import LOGIN_ERRORS

TEMPLATES = Path(__file__).resolve().parents[2] / "src/frontdesk/web/templates"


def ui_strings() -> set[str]:
    found: set[str] = set(WIDGET_STRINGS) | set(ERROR_TEXT.values()) | set(LOGIN_ERRORS.values())
    found |= set(CLOSED_WINDOW_TEXT.values()) | set(CHART_STRINGS) | set(STAFFING_TITLES)
    found |= set(JOURNEY_STRINGS) | set(REPORT_TITLES)
    found |= set(CLOSED_WINDOW_TEXT.values()) | ACTIVITY_STRINGS
    found |= PEOPLE_STRINGS
    found |= set(WORKSPACE_ERRORS.values())
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        found |= set(re.findall(r'_\(\s*"([^"]+)"\s*[,)]', text))
        found |= set(re.findall(r"_\(\s*'([^']+)'\s*[,)]", text))
    return found


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_every_ui_string_is_translated(lang: str) -> None:
    missing = sorted(ui_strings() - set(catalogue(lang)))
    assert missing == []


def test_digits_and_direction() -> None:
    assert format_number(1234, "fa") == "\u06f1,\u06f2\u06f3\u06f4"
    assert format_number(1234, "ar") == "\u0661,\u0662\u0663\u0664"
    assert format_number(1234, "en") == "1,234"
    assert direction("fa") == direction("ar") == "rtl"
    assert translator("fa")("Send") == "ارسال"


# Input formats the agent types as shown (a decimal target, opening hours): their examples keep
# the digits the field expects.
TYPED_EXAMPLES = ("0.8", "09:00")


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_numbers_in_translations_use_the_languages_digits(lang: str) -> None:
    western = {
        msgid: text
        for msgid, text in catalogue(lang).items()
        if re.search(r"[0-9]", re.sub(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|Base64", "", text))
        and not any(example in text for example in TYPED_EXAMPLES)
    }
    assert western == {}
