# ruff: noqa: E501, RUF001  (each reply reads best as the one line of HTML its client writes)
"""Replies as each client writes them, in English, Arabic, Persian and Russian: the reply
stays, the quoted mail goes — in the display HTML and in the text."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from frontdesk.channels.email import quoting
from frontdesk.channels.email.parsing import parse_mail
from tests.channels.email.mails import mail

SUPPORT_LINK = '&lt;<a href="mailto:support@frontdesk.test">support@frontdesk.test</a>&gt;'


@dataclass
class Reply:
    name: str
    html: str
    kept: list[str]
    stripped: list[str]


OUTLOOK_HEADER = "<b>From:</b> Support [mailto:support@frontdesk.test]<br><b>Sent:</b> Monday, January 06, 2025 10:00 AM<br><b>To:</b> Layla<br><b>Subject:</b> Order #4411"

REPLIES = [
    Reply("outlook_2003", f"<html><body><div dir=ltr align=left><font face=Arial size=2>Still waiting for it.</font></div><br><div class=OutlookMessageHeader lang=en-us dir=ltr align=left><hr tabindex=-1><font face=Tahoma size=2>{OUTLOOK_HEADER}</font><br></div><div></div>We shipped it on Friday.</body></html>",
          ["Still waiting for it."], ["We shipped it", "Sent:"]),
    Reply("outlook_2007_2010", "<div class=WordSection1><p class=MsoNormal><span style='font-size:11.0pt;color:#1F497D'>Still waiting for it.<o:p></o:p></span></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><div style='border:none;border-top:solid #B5C4DF 1.0pt;padding:3.0pt 0in 0in 0in'><p class=MsoNormal><b><span style='font-size:10.0pt'>From:</span></b><span style='font-size:10.0pt'> Support [mailto:support@frontdesk.test] <br><b>Sent:</b> Monday, January 06, 2025 10:00 AM<o:p></o:p></span></p></div><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>We shipped it on Friday.<o:p></o:p></p></div>",
          ["Still waiting for it."], ["We shipped it", "Sent:"]),
    Reply("outlook_365_desktop", f'<div class="WordSection1"><p class="MsoNormal">Still waiting for it.</p><p class="MsoNormal">&nbsp;</p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal">{OUTLOOK_HEADER}</p></div></div><p class="MsoNormal">&nbsp;</p><p class="MsoNormal">We shipped it on Friday.</p></div>',
          ["Still waiting for it."], ["We shipped it", "Sent:"]),
    Reply("outlook_365_web", f'<div dir="ltr">Still waiting for it.</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt">{OUTLOOK_HEADER}</font><div>&nbsp;</div></div><div>We shipped it on Friday.</div>',
          ["Still waiting for it."], ["We shipped it", "Sent:"]),
    Reply("hotmail_classic", "<div dir='ltr'>Still waiting for it.<br><br><div><hr id=\"stopSpelling\">Date: Mon, 6 Jan 2025 10:00:00 +0000<br>From: support@frontdesk.test<br>To: layla@hotmail.com<br>Subject: Order<br><br>We shipped it on Friday.</div></div>",
          ["Still waiting for it."], ["We shipped it", "Date:"]),
    Reply("outlook_com", f'<div style="font-family: Calibri"><div>Still waiting for it.</div></div><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif">{OUTLOOK_HEADER}</font></div><div><div>We shipped it on Friday.</div></div>',
          ["Still waiting for it."], ["We shipped it", "Sent:"]),
    Reply("windows_live_mail", '<div><font face=Arial size=2>Still waiting for it.</font></div><blockquote style="PADDING-RIGHT: 0px; PADDING-LEFT: 5px; MARGIN-LEFT: 5px; BORDER-LEFT: #000000 2px solid; MARGIN-RIGHT: 0px"><div style="FONT: 10pt arial">----- Original Message ----- </div><div style="BACKGROUND: #e4e4e4; FONT: 10pt arial; font-color: black"><b>From:</b> Support</div><div>We shipped it on Friday.</div></blockquote>',
          ["Still waiting for it."], ["We shipped it", "Original Message"]),
    Reply("windows_10_mail", f'<div class="WordSection1"><p class="MsoNormal">Still waiting for it.</p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><div style="mso-element:para-border-div;border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal" style="border:none;padding:0cm">{OUTLOOK_HEADER}</p></div><p class="MsoNormal">We shipped it on Friday.</p></div>',
          ["Still waiting for it."], ["We shipped it", "Sent:"]),
    Reply("yandex", '<div>Всё ещё жду заказ.</div><div>&nbsp;</div><div>06.01.2025, 10:00, "Support" &lt;support@frontdesk.test&gt;:</div><blockquote class="210e7a848e8fcb45wmi-quote"><div>We shipped it on Friday.</div></blockquote>',
          ["Всё ещё жду заказ."], ["We shipped it", "06.01.2025"]),
    Reply("yandex_plain_blockquote", '<div>Всё ещё жду заказ.</div><div>&nbsp;</div><div>06.01.2025, 10:00, "Support" &lt;support@frontdesk.test&gt;:</div><blockquote><div>We shipped it on Friday.</div></blockquote>',
          ["Всё ещё жду заказ."], ["We shipped it", "06.01.2025"]),
    Reply("mail_ru", '<div>Всё ещё жду заказ.</div><div>&nbsp;</div><div>Понедельник, 6 января 2025, 10:00 +03:00 от Support &lt;support@frontdesk.test&gt;:<br>&nbsp;</div><blockquote style="border-left:1px solid #0857A6; margin:10px; padding:0 0 0 10px;"><div id="style_17361480001234567890_BODY">We shipped it on Friday.</div></blockquote>',
          ["Всё ещё жду заказ."], ["We shipped it", "Понедельник"]),
    Reply("mail_ru_collapse", '<div>Всё ещё жду заказ.</div><div class="mail-quote-collapse">Понедельник, 6 января 2025, 10:00 +03:00 от Support &lt;support@frontdesk.test&gt;:<blockquote><div>We shipped it on Friday.</div></blockquote></div>',
          ["Всё ещё жду заказ."], ["We shipped it", "Понедельник"]),
    Reply("gmail", f'<div dir="ltr">Thanks, it arrived!</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Jan 6, 2025 at 10:00 AM Support {SUPPORT_LINK} wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">We shipped it on Friday.</blockquote></div>',
          ["Thanks, it arrived!"], ["We shipped it", "wrote:"]),
    Reply("gmail_android_russian", f'<div dir="auto">Спасибо, получил!</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">пн, 6 янв. 2025 г., 10:00 Support {SUPPORT_LINK}:<br></div><blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">We shipped it on Friday.</blockquote></div>',
          ["Спасибо, получил!"], ["We shipped it", "янв."]),
    Reply("samsung_email_russian", '<div dir="auto">Спасибо, получил!</div><div dir="auto"><br></div><div style="font-size:100%;color:#000000"><!-- originalMessage --><div>-------- Исходное сообщение --------</div><div>От: Support &lt;support@frontdesk.test&gt; </div><div>Дата: 06.01.2025 10:00 (GMT+03:00) </div><div>We shipped it on Friday.</div></div>',
          ["Спасибо, получил!"], ["We shipped it", "Исходное"]),
    Reply("apple_mail", '<div>Got it, thank you.</div><div><br><blockquote type="cite"><div>On 6 Jan 2025, at 10:00, Support &lt;support@frontdesk.test&gt; wrote:</div><div>We shipped it on Friday.</div></blockquote></div>',
          ["Got it, thank you."], ["We shipped it", "wrote:"]),
    Reply("gmail_arabic", f'<div dir="rtl">شكراً، وصل الطلب.</div><br><div class="gmail_quote"><div dir="rtl" class="gmail_attr">في الاثنين، 6 يناير 2025 في 10:00 ص، كتب Support {SUPPORT_LINK}:<br></div><blockquote class="gmail_quote">تم شحن طلبك يوم الجمعة.</blockquote></div>',
          ["وصل الطلب"], ["تم شحن", "كتب"]),
    Reply("arabic_header_above_blockquote", '<div dir="rtl">شكراً، وصل الطلب.</div><div dir="rtl">في 6 يناير 2025، كتب الدعم &lt;support@frontdesk.test&gt;:</div><blockquote>تم شحن طلبك يوم الجمعة.</blockquote>',
          ["وصل الطلب"], ["تم شحن", "كتب"]),
    Reply("outlook_arabic", '<div dir="rtl"><p class="MsoNormal">ما زلت أنتظر الطلب.</p><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal" dir="RTL"><b>من:</b> الدعم<br><b>تاريخ الإرسال:</b> الاثنين، 6 يناير 2025 10:00 ص</p></div><p class="MsoNormal">تم شحن طلبك يوم الجمعة.</p></div>',
          ["ما زلت أنتظر الطلب."], ["تم شحن", "تاريخ الإرسال"]),
    Reply("persian_header_above_blockquote", '<div dir="rtl">ممنون، مشکل حل شد.</div><div dir="rtl">در دوشنبه ۶ ژانویه ۲۰۲۵، پشتیبانی &lt;support@frontdesk.test&gt; نوشت:</div><blockquote>لطفاً دوباره امتحان کنید.</blockquote>',
          ["مشکل حل شد"], ["دوباره امتحان", "نوشت"]),
    Reply("gmail_persian", f'<div dir="rtl">ممنون، مشکل حل شد.</div><div class="gmail_quote"><div dir="rtl" class="gmail_attr">در تاریخ دوشنبه ۶ ژانویه ۲۰۲۵ ساعت ۱۰:۰۰ Support {SUPPORT_LINK} نوشت:<br></div><blockquote class="gmail_quote">لطفاً دوباره امتحان کنید.</blockquote></div>',
          ["مشکل حل شد"], ["دوباره امتحان", "نوشت"]),
    # Written below the quote: the reply stays, the quote above it goes.
    Reply("bottom_posted", '<div>On Mon, 6 Jan 2025 at 10:00, Support &lt;support@frontdesk.test&gt; wrote:</div><blockquote>We shipped it on Friday.</blockquote><div>It has not arrived yet.</div>',
          ["It has not arrived yet."], ["We shipped it", "wrote:"]),
    Reply("bottom_posted_arabic", '<div dir="rtl">في 6 يناير 2025، كتب الدعم &lt;support@frontdesk.test&gt;:</div><blockquote>تم شحن طلبك.</blockquote><div dir="rtl">لم يصل بعد.</div>',
          ["لم يصل بعد."], ["تم شحن", "كتب"]),
    Reply("bottom_posted_persian", '<div dir="rtl">در ۶ ژانویه ۲۰۲۵، پشتیبانی &lt;support@frontdesk.test&gt; نوشت:</div><blockquote>سفارش ارسال شد.</blockquote><div dir="rtl">هنوز نرسیده است.</div>',
          ["هنوز نرسیده است."], ["سفارش ارسال شد", "نوشت"]),
    # A quotation of the customer's own, with no reply header: nothing to strip.
    Reply("customer_blockquote_kept", "<p>The manual says:</p><blockquote>Hold reset for 5 seconds.</blockquote><p>It does not work.</p>",
          ["The manual says:", "Hold reset for 5 seconds.", "It does not work."], []),
]  # fmt: skip


@pytest.mark.parametrize("case", REPLIES, ids=[r.name for r in REPLIES])
def test_html_reply_keeps_the_reply_and_drops_the_quote(case: Reply):
    raw = mail(message_id=f"<{case.name}@x>", text=None, html=case.html)
    shown = parse_mail(raw).html or ""
    for needle in case.kept:
        assert needle in shown, (needle, shown)
    for needle in case.stripped:
        assert needle not in shown, (needle, shown)


TEXTS = [
    ("android_russian", "Спасибо, получил!\n\nпн, 6 янв. 2025 г., 10:00 Support <support@frontdesk.test>:\n\n> We shipped it on Friday.\n",
     "Спасибо, получил!"),
    ("android_ukrainian", "Дякую!\n\nпн, 6 січ. 2025 р. о 10:00 Support <support@frontdesk.test> написав:\n> We shipped it on Friday.\n", "Дякую!"),
    ("android_portuguese", "Obrigado!\n\nEm seg., 6 de jan. de 2025 10:00, Support <support@frontdesk.test> escreveu:\n> We shipped it on Friday.\n", "Obrigado!"),
    ("android_turkish", "Teşekkürler!\n\n6 Oca 2025 Pzt 10:00 tarihinde Support <support@frontdesk.test> şunu yazdı:\n> We shipped it on Friday.\n", "Teşekkürler!"),
    ("android_chinese", "谢谢！\n\nSupport <support@frontdesk.test> 于2025年1月6日周一 10:00写道：\n> We shipped it on Friday.\n", "谢谢！"),
    ("samsung_separator", "Спасибо!\n\n-------- Исходное сообщение --------\nОт: Support <support@frontdesk.test>\nДата: 06.01.2025 10:00\n\nWe shipped it on Friday.\n", "Спасибо!"),
    ("bottom_posted", "On Mon, 6 Jan 2025 at 10:00, Support <support@frontdesk.test> wrote:\n> We shipped it on Friday.\n> Support\n\nIt has not arrived yet.\n", "It has not arrived yet."),
    ("bottom_posted_arabic", "في 6 يناير 2025، كتب الدعم <support@frontdesk.test>:\n> تم شحن طلبك.\n\nلم يصل بعد.\n", "لم يصل بعد."),
    ("bottom_posted_persian", "در ۶ ژانویه ۲۰۲۵، پشتیبانی <support@frontdesk.test> نوشت:\n> سفارش ارسال شد.\n\nهنوز نرسیده است.\n", "هنوز نرسیده است."),
    ("bottom_posted_no_header", "> Do you want a refund?\n> Support\n\nYes please.\n", "Yes please."),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "reply"), TEXTS, ids=[t[0] for t in TEXTS])
def test_text_reply_keeps_only_the_reply(name: str, text: str, reply: str):
    assert quoting.strip_text(text) == reply


def test_a_customer_writing_wrote_colon_is_not_cut():
    text = "As I wrote:\nthe parcel never came.\nPlease check."
    assert quoting.strip_text(text) == text


def test_an_interleaved_answer_keeps_its_quotes():
    text = "> Which colour?\nBlue.\n> Which size?\nLarge.\n"
    assert quoting.strip_text(text) == text.strip()
