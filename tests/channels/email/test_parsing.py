"""The corpus: every real-world-shaped mail parses to its expected outcome (no database)."""

from __future__ import annotations

from email import policy

import pytest

from frontdesk.channels.email import parsing, quoting
from frontdesk.channels.email.parsing import BrokenMail, parse_mail, safe_filename
from frontdesk.kit.security import sanitize_html
from tests.channels.email.mails import HOSTILE, Case, corpus, mail

CORPUS = corpus()
TRUSTED = "mx.frontdesk.test"


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_corpus_case(case: Case):
    if case.outcome == "quarantined":
        with pytest.raises(BrokenMail):
            parse_mail(case.raw, trusted_authserv_id=TRUSTED)
        return
    parsed = parse_mail(case.raw, trusted_authserv_id=TRUSTED)
    for needle in case.text_has:
        assert needle in parsed.text, (needle, parsed.text)
    for needle in case.text_lacks:
        assert needle not in parsed.text, (needle, parsed.text)
    for needle in case.full_has:
        assert needle in parsed.text_full
    if case.subject is not None:
        assert parsed.subject == case.subject
    for flag in case.flags:
        assert flag in parsed.flags, parsed.flags
    if not case.flags:
        assert parsed.flags == [] or case.name in ("dsn_bounce",), parsed.flags
    html = (parsed.html or "").lower()
    for needle in case.html_lacks:
        assert needle.lower() not in html, (needle, parsed.html)
    for needle in case.html_has:
        assert needle.lower() in html, (needle, parsed.html)
    assert [a.filename for a in parsed.attachments] == case.attachments or not case.attachments
    if case.from_name is not None:
        assert parsed.from_name == case.from_name
    if case.from_address is not None:
        assert parsed.from_address == case.from_address
    # Whatever came in, the stored HTML carries nothing executable.
    for needle in ("<script", "onerror", "javascript:"):
        assert needle not in html


class TestTrust:
    def test_sender_written_authentication_results_are_not_trusted(self):
        raw = mail(headers={"Authentication-Results": "evil.example; spf=pass; dkim=pass"})
        assert parse_mail(raw, trusted_authserv_id=TRUSTED).auth["trusted"] is False

    def test_topmost_header_of_the_trusted_hop_wins(self):
        raw = mail(
            headers={
                "Authentication-Results": f"{TRUSTED}; spf=fail smtp.mailfrom=x; dkim=none;"
                " dmarc=fail"
            }
        )
        # A second header further down, forged by the sender with our authserv-id.
        forged = raw.replace(
            b"MIME-Version",
            f"Authentication-Results: {TRUSTED}; spf=pass; dmarc=pass\r\nMIME-Version".encode(),
            1,
        )
        auth = parse_mail(forged, trusted_authserv_id=TRUSTED).auth
        assert auth == {
            "trusted": True, "authserv_id": TRUSTED, "spf": "fail", "dkim": "none", "dmarc": "fail"
        }  # fmt: skip

    def test_nothing_is_trusted_without_a_configured_hop(self):
        raw = mail(headers={"Authentication-Results": f"{TRUSTED}; spf=pass"})
        assert parse_mail(raw, trusted_authserv_id=None).auth["trusted"] is False


class TestDisplay:
    def test_remote_images_come_back_only_when_allowed(self):
        raw = mail(html='<p>x</p><img src="https://cdn.example/a.png">')
        assert "cdn.example" not in (parse_mail(raw).html or "")
        allowed = parse_mail(raw, allow_remote_images=True)
        assert "https://cdn.example/a.png" in (allowed.html or "")
        assert "onerror" not in (allowed.html or "")

    def test_a_reply_that_is_all_quote_keeps_its_text(self):
        text = "> only a quote\n> nothing new\n"
        assert quoting.strip_text(text) == text.strip()

    def test_filenames_lose_bidi_controls_and_paths(self):
        assert safe_filename("photo\u202egnp.exe", "image/png") == "photognp.exe"
        assert safe_filename("..\\..\\boot.ini", "text/plain") == "_.._boot.ini"
        assert safe_filename(None, "image/png") == "image.png"

    def test_hostile_list_is_applied(self):
        assert "<script>" in HOSTILE


class TestHeaderCache:
    @pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
    def test_parses_exactly_as_the_stock_policy(self, case: Case, monkeypatch):
        def outcome() -> object:
            try:
                return parse_mail(case.raw, trusted_authserv_id=TRUSTED)
            except BrokenMail as exc:
                return str(exc)

        cached, again = outcome(), outcome()  # the second read comes from the cache
        monkeypatch.setattr(parsing, "_POLICY", policy.default)
        assert cached == again == outcome()

    def test_stays_bounded(self):
        for n in range(parsing.HEADER_CACHE + 50):
            parse_mail(mail(message_id=f"<bound{n}@x>", subject=f"s{n}"))
        registry = parsing._POLICY.header_factory
        assert len(registry._parsed) <= parsing.HEADER_CACHE  # type: ignore[attr-defined]
        assert len(registry._classes) < 30  # type: ignore[attr-defined]


class TestHtml:
    @pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
    def test_mail_html_is_stored_as_the_second_sanitising_would_leave_it(self, case: Case):
        # receive() skips its own pass for mail: ours must already be its fixed point.
        try:
            parsed = parse_mail(case.raw, trusted_authserv_id=TRUSTED)
        except BrokenMail:
            return
        if parsed.html is not None:
            assert sanitize_html(parsed.html) == parsed.html

    def test_a_self_closing_tag_stays_one_element(self):
        html = '<p>a<br/>b</p><div class="gmail_quote">old<br/>text</div><img src="cid:x"/>'
        assert quoting.strip_html(html) == '<p>a<br/>b</p><img src="cid:x"/>'

    def test_html_without_quotes_is_not_rewritten(self):
        html = "<p>News</p><table><tr><td>row</td></tr></table><!-- tracking -->" * 1000
        assert quoting.strip_html(html) is html


class TestEightBit:
    @pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
    def test_every_field_is_storable_text(self, case: Case):
        # Undecoded 8-bit bytes reach Python as lone surrogates, which no database stores.
        try:
            parsed = parse_mail(case.raw, trusted_authserv_id=TRUSTED)
        except BrokenMail:
            return
        fields = [parsed.message_id, parsed.subject, parsed.from_address, parsed.from_name or "",
                  parsed.text, parsed.html or "", *parsed.to, *parsed.in_reply_to,
                  *(a.filename for a in parsed.attachments)]  # fmt: skip
        for value in fields:
            value.encode("utf-8")

    def test_eight_bit_message_id_and_recipient(self):
        raw = (
            b"From: a@example.com\r\nTo: " + "دعم".encode("cp1256") + b" <support@frontdesk.test>"
            b"\r\nSubject: x\r\nMessage-ID: <\xe9t\xe9@example.com>\r\n\r\nhi\r\n"
        )
        parsed = parse_mail(raw)
        assert parsed.message_id == "<été@example.com>"
        assert parsed.to == ["support@frontdesk.test"]
