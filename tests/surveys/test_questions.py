"""How a survey reads on each channel, in each language (no database needed)."""

from __future__ import annotations

from datetime import timedelta

from frontdesk.config import Settings
from frontdesk.db import utcnow
from frontdesk.surveys import questions, tokens
from frontdesk.surveys.models import Survey
from frontdesk.surveys.service import asking_for
from tests.surveys.helpers import LINK

APP = Settings(secret_key="a-test-secret-key-of-some-length", base_url="https://desk.example")


def survey(channel: str, kind: str = "csat", language: str = "en") -> Survey:
    expires = (utcnow() + timedelta(days=7)).replace(microsecond=0)
    return Survey(id=41, channel=channel, kind=kind, language=language, expires_at=expires)


class TestEmail:
    def test_one_signed_link_per_score_in_text_and_html(self):
        asking = asking_for(survey("email", "nps"), APP)
        found = LINK.findall(asking.text)
        assert len(found) == 11 and len(set(found)) == 1
        claims = tokens.read(APP.secret_key, found[0])
        assert claims is not None and claims.survey_id == 41
        assert [f"?score={n}" in asking.text for n in range(11)] == [True] * 11
        assert asking.html is not None and asking.html.count("<a href=") == 11
        assert (
            asking.text.startswith("https://") is False
            and "https://desk.example/surveys/r/" in asking.text
        )

    def test_persian_mail_reads_right_to_left_with_persian_digits(self):
        asking = asking_for(survey("email", "csat", "fa"), APP)
        assert asking.html is not None and 'dir="rtl"' in asking.html
        assert "\u06f5" in asking.text and questions.question("csat", "fa") in asking.text


class TestChoices:
    def test_whatsapp_gets_a_list_for_csat_and_a_digit_prompt_for_nps(self):
        listed = asking_for(survey("whatsapp", "csat"), APP)
        assert listed.interactive is not None
        rows = listed.interactive["sections"][0]["rows"]
        assert [questions.parse_choice(r["id"]) for r in rows] == [(41, n) for n in range(1, 6)]
        assert all(len(r["title"]) <= 24 for r in rows)
        digits = asking_for(survey("whatsapp", "nps"), APP)
        assert digits.interactive is None and "from 0" in digits.text

    def test_sms_asks_for_a_digit_in_arabic(self):
        asking = asking_for(survey("sms", "ces", "ar"), APP)
        assert asking.interactive is None and "\u0667" in asking.text  # Arabic-Indic 7

    def test_the_widget_card_carries_a_token_and_labels(self):
        asking = asking_for(survey("webchat", "csat", "ar"), APP)
        card = asking.meta
        assert card["low"] == 1 and card["high"] == 5 and card["dir"] == "rtl"
        assert card["labels"] == [chr(0x0660 + n) for n in range(1, 6)]  # Arabic-Indic
        assert tokens.read(APP.secret_key, card["token"]) is not None

    def test_choice_ids_are_parsed_strictly(self):
        assert questions.parse_choice("survey:12:3") == (12, 3)
        for bad in ("survey:12", "survey:x:3", "poll:12:3", "survey:12:300", ""):
            assert questions.parse_choice(bad) is None
