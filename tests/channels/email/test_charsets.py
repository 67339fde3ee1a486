# ruff: noqa: RUF001  (full-width punctuation is part of the CJK samples)
"""Charsets as real mail writes them: superset codecs for narrow labels, ISO-2022-JP with the
NEC rows, encoded words split anywhere, and the measured guess for undeclared 8-bit bytes."""

from __future__ import annotations

import pytest

from frontdesk.channels.email import charsets

# Subjects as they arrive without a declared charset, each in the codec its sender's
# mailer writes. Arabic and Persian (our core market) must all come out right.
SUBJECTS = {
    "gbk": ["您好，我的订单还没有到", "关于发票的问题", "退款", "请尽快回复", "产品质量问题投诉",
            "订单号 12345 的物流信息", "会议通知", "你好", "发货时间", "账户无法登录"],
    "cp932": ["ご注文の商品について", "請求書", "お問い合わせ", "【重要】パスワード変更のお知らせ",
              "返品について", "至急", "配送状況の確認", "ありがとうございます", "会議の件",
              "見積書送付のお願い"],
    "big5": ["您好，我的訂單還沒有到", "關於發票的問題", "退款申請", "請儘快回覆", "會議通知"],
    "cp1256": ["طلبي لم يصل", "شكرا", "استرداد المبلغ", "مشكلة في الدفع", "فاتورة رقم 4411",
               "سفارش من نرسيد", "پاسخ", "گزارش خرابي", "مرحبا", "عاجل", "رد: استفسار عن الطلب"],
    "cp1251": ["Заказ не пришёл", "Возврат денег", "Здравствуйте"],
    "cp1252": ["Réponse à votre problème", "Grüße aus München", "Café", "Año nuevo"],
}  # fmt: skip


class TestGuess:
    @pytest.mark.parametrize("text", SUBJECTS["cp1256"])
    def test_undeclared_arabic_and_persian_read_as_windows_1256(self, text: str):
        assert charsets.guess(text.encode("cp1256")) == text

    @pytest.mark.parametrize(
        ("codec", "text"),
        [(codec, text) for codec, texts in SUBJECTS.items() if codec != "cp1256" for text in texts],
    )
    def test_undeclared_cjk_cyrillic_and_latin_are_not_read_as_arabic(self, codec, text):
        assert charsets.guess(text.encode(codec)) == text

    def test_utf8_with_a_stray_byte_stays_utf8(self):
        text = "مرحبا، لم يصل طلبي رقم 4411 حتى الآن. شكرا"
        assert charsets.guess(text.encode() + b"\xff") == text + "\ufffd"

    def test_utf8_comes_first(self):
        assert charsets.guess("طلب 订单".encode()) == "طلب 订单"


class TestLabels:
    def test_gb2312_label_reads_gbk_characters(self):
        assert charsets.decode("發票".encode("gb18030"), "gb2312") == "發票"

    def test_shift_jis_label_reads_nec_rows(self):
        assert charsets.decode("①㈱".encode("cp932"), "Shift_JIS") == "①㈱"

    def test_iso2022jp_with_nec_extensions(self):
        # ESC $ B, then ① (NEC row 13: 0x2D21) and の件; ESC ( B back to ASCII.
        assert charsets.decode(b"\x1b$B-!$N7o\x1b(B ok", "iso-2022-jp") == "①の件 ok"

    def test_iso2022jp_2_escapes_to_korean(self):
        data = "주문".encode("iso2022_jp_2")
        assert charsets.decode(data, "ISO-2022-JP-2") == "주문"

    def test_iso2022jp_half_width_kana(self):
        assert charsets.decode(b"\x1b(I1\x1b(B", "iso-2022-jp") == "ｱ"

    def test_iso2022jp_label_on_shift_jis_bytes(self):
        assert charsets.decode("ご注文".encode("cp932"), "iso-2022-jp") == "ご注文"

    def test_unknown_label_is_guessed(self):
        assert charsets.decode("héllo".encode(), "x-klingon") == "héllo"

    def test_latin1_label_on_windows_1252_quotes(self):
        assert charsets.decode(b"\x93ok\x94", "iso-8859-1") == "\u201cok\u201d"


class TestHeaders:
    def test_encoded_words_of_one_charset_are_joined_before_decoding(self):
        data = "طلب".encode()
        value = f"=?utf-8?Q?{quote(data[:3])}?= =?utf-8?Q?{quote(data[3:])}?="
        assert charsets.decode_header(value) == "طلب"

    def test_text_between_words_is_kept(self):
        assert charsets.decode_header("Re: =?utf-8?Q?caf=C3=A9?= ok") == "Re: café ok"

    def test_comma_inside_an_encoded_word_stays_in_the_name(self):
        value = "=?iso-8859-1?Q?B=FCrling,=20Andreas?= <andreas@example.de>"
        assert charsets.quote_words(value) == '"Bürling, Andreas" <andreas@example.de>'


def quote(data: bytes) -> str:
    return "".join(f"={byte:02X}" for byte in data)
