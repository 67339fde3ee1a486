"""The header section mended and read: junk first lines, lost folds, the author found."""

from __future__ import annotations

from email import message_from_bytes, policy

from frontdesk.channels.email.headers import Heads, mend_head, sender


def heads(raw: bytes) -> Heads:
    return Heads(message_from_bytes(raw, policy=policy.default))


class TestMendHead:
    def test_a_lost_fold_is_joined_to_the_header_above(self):
        raw = b"Subject: first half\r\nsecond half\r\nFrom: a@example.com\r\n\r\nbody\r\n"
        mended, note = mend_head(raw) or (b"", "")
        assert mended.startswith(b"Subject: first half\r\n second half\r\nFrom: a@example")
        assert "folding" in note

    def test_a_body_without_its_blank_line_stays_the_body(self):
        # Nothing header-like follows the odd line: it is where the body starts.
        raw = b"Subject: x\r\nFrom: a@example.com\r\nJunk follows\r\nmore\r\n"
        assert mend_head(raw) is None

    def test_junk_lines_before_the_headers_are_dropped(self):
        raw = b">From a@example.com Mon Jan  6 10:00:00 2025\r\nFrom: a@example.com\r\n\r\nb\r\n"
        mended, note = mend_head(raw) or (b"", "")
        assert mended == b"From: a@example.com\r\n\r\nb\r\n"
        assert note == "skipped 1 junk line(s) before the headers"

    def test_more_junk_than_a_banner_is_not_mail(self):
        assert mend_head(b"a\r\nb\r\nc\r\nd\r\nFrom: a@example.com\r\n\r\nb\r\n") is None


class TestSender:
    def test_from_comes_first_then_sender_then_reply_to(self):
        raw = b"Reply-To: r@example.com\r\nSender: s@example.com\r\nFrom: f@example.com\r\n\r\n"
        notes: list[str] = []
        assert sender(heads(raw), notes) == (None, "f@example.com") and notes == []
        raw = b"Reply-To: r@example.com\r\nSender: s@example.com\r\nFrom: nobody\r\n\r\n"
        assert sender(heads(raw), notes) == (None, "s@example.com")
        assert notes == ["no usable From: the sender is taken from Sender"]

    def test_no_address_anywhere_is_none(self):
        assert sender(heads(b"From: nobody\r\nSubject: x\r\n\r\n"), []) is None

    def test_a_comma_inside_an_encoded_word_is_part_of_the_name(self):
        raw = b"From: =?iso-8859-1?Q?B=FCrling,=20Andreas?= <andreas@example.de>\r\n\r\n"
        assert sender(heads(raw), []) == ("Bürling, Andreas", "andreas@example.de")
