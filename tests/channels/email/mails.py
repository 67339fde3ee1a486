# ruff: noqa: E501, RUF001, RUF005  (the corpus reads best one case per line)
"""Builders for real-world-shaped mail (Gmail, Outlook, Apple Mail, Thunderbird, bounces,
auto-replies, Arabic and Persian in UTF-8 and windows-1256, hostile HTML, broken MIME) and the
corpus of cases with the outcome each must have. Generated here, never downloaded."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

SUPPORT = "support@frontdesk.test"
DATE = format_datetime(datetime(2025, 1, 6, 10, 0, tzinfo=UTC))


def mail(
    *,
    sender: str = "Layla Haddad <layla@example.com>",
    to: str = SUPPORT,
    subject: str = "Order #4411",
    text: str | None = "Hello, where is my order?",
    html: str | None = None,
    message_id: str | None = "<m1@example.com>",
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = DATE
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def raw(*lines: str | bytes, body: bytes = b"hello\r\n") -> bytes:
    head = b"".join(
        (line if isinstance(line, bytes) else line.encode()) + b"\r\n" for line in lines
    )
    return head + b"\r\n" + body


def reply(
    original: EmailMessage | bytes,
    *,
    sender: str,
    text: str,
    style: str = "gmail",
    message_id: str,
    to: str | None = None,
    drop_in_reply_to: bool = False,
) -> bytes:
    """A reply as a mail client writes it, quoting the original in that client's style."""
    from email import message_from_bytes, policy

    source = (
        message_from_bytes(original, policy=policy.default)
        if isinstance(original, bytes)
        else original
    )
    their_id = str(source["Message-ID"])
    refs = " ".join(x for x in (str(source.get("References") or ""), their_id) if x)
    reply_to = str(source.get("Reply-To") or source["From"])
    quoted_text = source.get_body(("plain",))
    quoted = quoted_text.get_content() if quoted_text is not None else ""
    subject = str(source["Subject"])
    subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    if style == "gmail":
        body = (
            f"{text}\n\nOn Mon, Jan 6, 2025 at 10:00 AM Support <{SUPPORT}>\nwrote:\n\n"
            + "".join(f"> {line}\n" for line in quoted.splitlines())
        )
        html = f'<div dir="ltr">{text}</div><br><div class="gmail_quote"><div>On Mon wrote:</div><blockquote>{quoted}</blockquote></div>'
    elif style == "outlook":
        body = f"{text}\n\n________________________________\nFrom: Support <{SUPPORT}>\nSent: Monday, January 6, 2025 10:00 AM\nTo: {sender}\nSubject: {subject}\n\n{quoted}\n"
        html = f'<div>{text}</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Support</div><div>{quoted}</div>'
    else:  # apple
        body = f"{text}\n\n> On 6 Jan 2025, at 10:00, Support <{SUPPORT}> wrote:\n>\n" + "".join(
            f"> {line}\n" for line in quoted.splitlines()
        )
        html = f'<div>{text}</div><div><br><blockquote type="cite"><div>On 6 Jan 2025 wrote:</div>{quoted}</blockquote></div>'
    return mail(
        sender=sender,
        to=to or reply_to,
        subject=subject,
        text=body,
        html=html,
        message_id=message_id,
        in_reply_to=None if drop_in_reply_to else their_id,
        references=refs,
    )


def encoded_word(text: str, charset: str, encoding: str = "B") -> str:
    data = text.encode(charset)
    if encoding == "B":
        return f"=?{charset}?B?{base64.b64encode(data).decode()}?="
    return str(Header(text, charset)).strip()


def cp1256_mail() -> bytes:
    body = "مرحبا، لم يصل طلبي رقم 4411 حتى الآن.".encode("cp1256")
    subject = encoded_word("طلبي لم يصل", "windows-1256")
    return raw(
        "From: =?windows-1256?B?"
        + base64.b64encode("عمر خليل".encode("cp1256")).decode()
        + "?= <omar@example.org>",
        f"To: {SUPPORT}",
        f"Subject: {subject}",
        "Message-ID: <cp1256@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=windows-1256",
        "Content-Transfer-Encoding: 8bit",
        body=body + b"\r\n",
    )


def nested(depth: int) -> bytes:
    head = [
        "From: deep@example.com",
        f"To: {SUPPORT}",
        "Subject: deep",
        "Message-ID: <deep@x>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b0"',
    ]
    body = ""
    for level in range(1, depth):
        body += f'--b{level - 1}\r\nContent-Type: multipart/mixed; boundary="b{level}"\r\n\r\n'
    body += f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\nbottom\r\n"
    for level in range(depth - 1, -1, -1):
        body += f"--b{level}--\r\n"
    return raw(*head, body=body.encode())


def dsn() -> bytes:
    body = (
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: support@frontdesk.test\r\nSubject: Re: order\r\n"
        "--B--\r\n"
    )
    return raw(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        f"To: {SUPPORT}",
        "Subject: Undelivered Mail Returned to Sender",
        "Message-ID: <dsn1@mx.example.net>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
        body=body.encode(),
    )


@dataclass
class Case:
    name: str
    raw: bytes
    outcome: str = "stored"  # stored | quarantined
    text_has: list[str] = field(default_factory=list)
    text_lacks: list[str] = field(default_factory=list)
    full_has: list[str] = field(default_factory=list)
    subject: str | None = None
    flags: list[str] = field(default_factory=list)
    html_lacks: list[str] = field(default_factory=list)
    html_has: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    from_name: str | None = None
    from_address: str | None = None


HOSTILE = [
    "<script>", "onerror", "javascript:", "onclick", "<style", "style=", "<iframe", "<svg",
    "<form", "<object", "<embed", "expression(", "position:fixed", "onload",
]  # fmt: skip


def corpus() -> list[Case]:
    gmail_original = mail(
        message_id="<orig-g@frontdesk.test>",
        sender=f"Support <{SUPPORT}>",
        to="layla@example.com",
        text="We shipped it on Friday.",
    )
    cases = [
        Case("plain_new", mail(message_id="<c1@x>"), text_has=["where is my order"]),
        Case("gmail_reply", reply(gmail_original, sender="Layla <layla@example.com>", text="Thanks, it arrived!", style="gmail", message_id="<c2@x>"),
             text_has=["Thanks, it arrived!"], text_lacks=["We shipped it", "wrote:"], full_has=["We shipped it"], html_lacks=["gmail_quote", "We shipped"]),
        Case("outlook_reply", reply(gmail_original, sender="Omar <omar@example.org>", text="Still not here.", style="outlook", message_id="<c3@x>"),
             text_has=["Still not here."], text_lacks=["We shipped it", "Sent:"], html_lacks=["divRplyFwdMsg", "We shipped"]),
        Case("apple_reply", reply(gmail_original, sender="John <john@example.net>", text="Got it, thank you.", style="apple", message_id="<c4@x>"),
             text_has=["Got it, thank you."], text_lacks=["We shipped it"], html_lacks=["We shipped"]),
        Case("thunderbird_reply", mail(message_id="<c5@x>", text="Fine by me.\n\nOn 06/01/2025 10:00, Support wrote:\n> We shipped it on Friday.\n",
             html='<p>Fine by me.</p><div class="moz-cite-prefix">On 06/01/2025 Support wrote:</div><blockquote type="cite">We shipped it</blockquote>'),
             text_has=["Fine by me."], text_lacks=["We shipped"], html_lacks=["We shipped"]),
        Case("gmail_wrapped_header", mail(message_id="<c6@x>", text="New address is 12 Main St.\n\nOn Mon, Jan 6, 2025 at 10:00 AM Support Team <support@frontdesk.test>\nwrote:\n> old text\n"),
             text_has=["12 Main St"], text_lacks=["old text"]),
        Case("bottom_quote", mail(message_id="<c7@x>", text="Yes please.\n> Do you want a refund?\n> Support\n"), text_has=["Yes please."], text_lacks=["refund"]),
        Case("interleaved_reply_kept", mail(message_id="<c8@x>", text="> Which colour?\nBlue.\n> Which size?\nLarge.\n"), text_has=["Blue.", "Large.", "Which size?"]),
        Case("signature_stripped", mail(message_id="<c9@x>", text="Please call me back.\n\n-- \nJohn Smith\nACME Corp\n+1 555 0100"), text_has=["call me back"], text_lacks=["ACME"], full_has=["ACME"]),
        Case("sent_from_iphone", mail(message_id="<c10@x>", text="On my way.\n\nSent from my iPhone"), text_has=["On my way."], text_lacks=["iPhone"]),
        Case("arabic_utf8_b_subject", mail(message_id="<c11@x>", subject="طلب استرداد المبلغ", sender="عمر خليل <omar@example.org>", text="مرحبا، أريد استرداد المبلغ من فضلك."),
             subject="طلب استرداد المبلغ", text_has=["أريد استرداد المبلغ"], from_name="عمر خليل"),
        Case("arabic_windows_1256", cp1256_mail(), subject="طلبي لم يصل", text_has=["لم يصل طلبي رقم 4411"], from_name="عمر خليل"),
        Case("persian_q_subject", raw("From: reza@example.ir", f"To: {SUPPORT}", "Subject: " + encoded_word("رمز عبورم را فراموش کرده‌ام", "utf-8", "Q"),
             "Message-ID: <c13@x>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64",
             body=base64.b64encode("سلام، لطفاً کمک کنید.".encode()) + b"\r\n"), subject="رمز عبورم را فراموش کرده‌ام", text_has=["لطفاً کمک کنید"]),
        Case("persian_quoted_reply", mail(message_id="<c14@x>", text="ممنون، مشکل حل شد.\n\nدر دوشنبه ۶ ژانویه ۲۰۲۵، پشتیبانی <support@frontdesk.test> نوشت:\n> لطفاً دوباره امتحان کنید.\n"),
             text_has=["مشکل حل شد"], text_lacks=["دوباره امتحان"]),
        Case("arabic_quoted_reply", mail(message_id="<c15@x>", text="شكراً، وصل الطلب.\n\nفي الاثنين، 6 يناير 2025، كتب الدعم <support@frontdesk.test>:\n> تم شحن طلبك.\n"),
             text_has=["وصل الطلب"], text_lacks=["تم شحن"]),
        Case("raw_utf8_header", raw("From: Layla <layla@example.com>", f"To: {SUPPORT}", "Subject: طلب جديد".encode(), "Message-ID: <c16@x>",
             "Content-Type: text/plain; charset=utf-8", body="نص".encode() + b"\r\n"), subject="طلب جديد", text_has=["نص"]),
        Case("arabic_quoted_printable", raw("From: a@example.com", f"To: {SUPPORT}", "Subject: qp", "Message-ID: <c17@x>", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", body=b"=D9=85=D8=B1=D8=AD=D8=A8=D8=A7\r\n"), text_has=["مرحبا"]),
        Case("html_only", mail(message_id="<c18@x>", text=None, html="<p>Line one</p><p>Line <b>two</b></p>"), text_has=["Line one", "Line two"]),
        Case("pdf_attachment", mail(message_id="<c19@x>", attachments=[("invoice.pdf", "application/pdf", b"%PDF-1.4 x")]), attachments=["invoice.pdf"]),
        Case("rtl_override_filename", mail(message_id="<c20@x>", attachments=[("invoice\u202egpj.exe", "application/octet-stream", b"MZ")]),
             attachments=["invoicegpj.exe"]),
        Case("path_filename", mail(message_id="<c21@x>", attachments=[("../../etc/passwd", "text/plain", b"x")]), attachments=["_.._etc_passwd"]),
        Case("script_tag", mail(message_id="<c22@x>", html="<p>hi</p><script>alert(document.cookie)</script>"), html_lacks=HOSTILE + ["alert"], html_has=["hi"]),
        Case("onerror_img", mail(message_id="<c23@x>", html='<p>x</p><img src="x" onerror="alert(1)">'), html_lacks=HOSTILE),
        Case("javascript_link", mail(message_id="<c24@x>", html='<a href="javascript:alert(1)">click</a><a href="JaVaScRiPt:alert(2)">two</a>'), html_lacks=HOSTILE, html_has=["click"]),
        Case("css_tricks", mail(message_id="<c25@x>", html='<style>body{display:none}</style><div style="position:fixed;top:0;left:0;width:100%;height:100%;background:url(https://evil.test/x.png)">Pay to IBAN X</div><p style="width:expression(alert(1))">t</p>'),
             html_lacks=HOSTILE + ["evil.test"], html_has=["Pay to IBAN X"]),
        Case("tracking_pixel_blocked", mail(message_id="<c26@x>", html='<p>news</p><img src="https://tracker.example/pixel.gif?u=1" width="1"><img src="//tracker.example/p2.gif">'), html_lacks=["tracker.example"]),
        Case("embedded_objects", mail(message_id="<c27@x>", html='<iframe src="https://evil.test"></iframe><svg onload="alert(1)"></svg><form action="https://evil.test"><input name=p></form><object data="x"></object><embed src="x">ok'),
             html_lacks=HOSTILE + ["evil.test"], html_has=["ok"]),
        Case("inline_cid_image", _cid_mail(), attachments=["logo.png"], html_has=["cid:logo1"]),
        Case("dsn_bounce", dsn(), flags=["auto_reply", "bounce"], text_has=["could not be delivered"]),
        Case("auto_submitted", mail(message_id="<c30@x>", headers={"Auto-Submitted": "auto-replied"}, subject="Re: Order", text="I am away until Monday."), flags=["auto_reply"]),
        Case("outlook_oof", mail(message_id="<c31@x>", subject="Automatic reply: Order #4411", headers={"X-Auto-Response-Suppress": "All"}, text="I am out of office."), flags=["auto_reply"]),
        Case("x_autoreply", mail(message_id="<c32@x>", headers={"X-Autoreply": "yes"}, text="Away."), flags=["auto_reply"]),
        Case("bulk_newsletter", mail(message_id="<c33@x>", sender="News <news@shop.example>", headers={"Precedence": "bulk", "List-Unsubscribe": "<https://shop.example/u>"}, text="Sale!"), flags=["bulk"]),
        Case("noreply_verification", mail(message_id="<c34@x>", sender="Slack <no-reply@slack.example>", subject="Your verification code", text="Your code is 424242"), flags=["automated_sender"]),
        Case("mailer_daemon_plain", mail(message_id="<c35@x>", sender="MAILER-DAEMON@mx.example.net", subject="Mail delivery failed", headers={"X-Failed-Recipients": "gone@example.net"}, text="failed"),
             flags=["automated_sender", "bounce"]),
        Case("no_from", raw(f"To: {SUPPORT}", "Subject: who am I", "Message-ID: <c36@x>"), outcome="quarantined"),
        Case("huge_subject", raw("From: a@example.com", f"To: {SUPPORT}", "Subject: " + "A" * (10 * 1024 * 1024), "Message-ID: <c37@x>"), outcome="quarantined"),
        Case("nested_100_deep", nested(100), outcome="quarantined"),
        Case("multipart_without_boundary", raw("From: a@example.com", f"To: {SUPPORT}", "Subject: nb", "Message-ID: <c39@x>", "MIME-Version: 1.0", "Content-Type: multipart/mixed",
             body=b"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n"), outcome="quarantined"),
        Case("garbage_base64", raw("From: a@example.com", f"To: {SUPPORT}", "Subject: b64", "Message-ID: <c40@x>", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64",
             body=b"aGVsbG8gd29ybGQ=!!!%%%\r\n"), text_has=["hello world"]),
        Case("unknown_charset", raw("From: a@example.com", f"To: {SUPPORT}", "Subject: cs", "Message-ID: <c41@x>", "Content-Type: text/plain; charset=x-klingon", body="héllo".encode() + b"\r\n"), text_has=["héllo"]),
        Case("mislabelled_charset", raw("From: a@example.com", f"To: {SUPPORT}", "Subject: ml", "Message-ID: <c42@x>", "Content-Type: text/plain; charset=utf-8", body="مرحبا".encode("cp1256") + b" ok\r\n"), text_has=["ok"]),
        Case("no_message_id", mail(message_id=None, text="no id here"), text_has=["no id here"]),
        Case("forwarded_rfc822", _forwarded(), attachments=["original.eml"], text_has=["see below"]),
        Case("forged_auth_results", mail(message_id="<c45@x>", headers={"Authentication-Results": "mx.frontdesk.test; spf=pass; dkim=pass; dmarc=pass"}, text="trust me")),
        Case("long_message_id", mail(message_id="<" + "x" * 400 + "@example.com>", text="long id")),
        Case("calendar_invite", mail(message_id="<c47@x>", attachments=[("invite.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")]), attachments=["invite.ics"]),
        Case("bidi_in_display_name", mail(message_id="<c48@x>", sender="=?utf-8?B?" + base64.b64encode("Support\u202e tset".encode()).decode() + "?= <evil@example.com>", text="x"), from_name="Support tset"),
    ]  # fmt: skip
    return cases + real_world()


def b64_word(text: str, charset: str, data: bytes | None = None) -> str:
    payload = data if data is not None else text.encode(charset)
    return f"=?{charset}?B?{base64.b64encode(payload).decode()}?="


def _head(*lines: str | bytes, message_id: str) -> list[str | bytes]:
    return [*lines, f"To: {SUPPORT}", f"Message-ID: {message_id}", f"Date: {DATE}"]


def real_world() -> list[Case]:
    """Mail as real senders write it, against the rules, whose meaning is still clear."""
    gbk_subject = "關於發票的問題"  # traditional characters: in GBK, not in GB2312
    return [
        # Charsets.
        Case("gb2312_label_holding_gbk", raw(*_head("From: li@example.cn", "Subject: " + b64_word(gbk_subject, "gb2312", gbk_subject.encode("gb18030")),
             "MIME-Version: 1.0", "Content-Type: text/plain; charset=gb2312", "Content-Transfer-Encoding: 8bit", message_id="<cs1@x>"),
             body="您好，請問發票什麼時候寄出？".encode("gb18030") + b"\r\n"), subject=gbk_subject, text_has=["請問發票什麼時候寄出"]),
        Case("undeclared_chinese_subject", raw(*_head(b"Subject: " + "关于发票的问题".encode("gbk"), "From: li@example.cn", message_id="<cs2@x>")), subject="关于发票的问题"),
        Case("undeclared_japanese_subject", raw(*_head(b"Subject: " + "ご注文の商品について".encode("cp932"), "From: sato@example.jp", message_id="<cs3@x>")), subject="ご注文の商品について"),
        Case("undeclared_arabic_subject", raw(*_head(b"Subject: " + "طلبي لم يصل بعد".encode("cp1256"), "From: omar@example.org", message_id="<cs4@x>")), subject="طلبي لم يصل بعد"),
        Case("undeclared_persian_name", raw(*_head(b"From: " + "رضا احمدي".encode("cp1256") + b" <reza@example.ir>", "Subject: x", message_id="<cs5@x>")), from_name="رضا احمدي"),
        Case("iso2022jp_nec_extensions", raw(*_head("From: sato@example.jp", "Subject: " + b64_word("", "ISO-2022-JP", b"\x1b$B-!$N7o\x1b(B"), "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=ISO-2022-JP", "Content-Transfer-Encoding: 7bit", message_id="<cs6@x>"), body=b"\x1b$B-!$N7o$K$D$$$F!\"-\"$b$*4j$$$7$^$9\x1b(B\r\n"),
             subject="①の件", text_has=["①の件について", "②もお願いします"]),
        Case("iso2022jp_label_holding_shift_jis", raw(*_head("From: sato@example.jp", "Subject: " + b64_word("ご注文の件", "ISO-2022-JP", "ご注文の件".encode("cp932")), message_id="<cs7@x>")),
             subject="ご注文の件"),
        Case("eight_bit_filenames", mail(message_id="<cs8@x>", attachments=[("a.pdf", "application/pdf", b"%PDF-1.4 x"), ("b.pdf", "application/pdf", b"%PDF-1.4 y")])
             .replace(b'filename="a.pdf"', b'filename="' + "发票.pdf".encode("gbk") + b'"').replace(b'filename="b.pdf"', b'filename="' + "فاتورة.pdf".encode("cp1256") + b'"'),
             attachments=["发票.pdf", "فاتورة.pdf"]),
        Case("encoded_word_split_at_a_comma", raw(*_head("From: =?iso-8859-1?Q?B=FCrling,=20Andreas?= <andreas@example.de>", "Subject: Rechnung", message_id="<cs9@x>")),
             from_name="Bürling, Andreas", from_address="andreas@example.de"),
        Case("utf8_split_between_encoded_words", raw(*_head("From: omar@example.org", "Subject: " + b64_word("", "utf-8", "طلب".encode()[:3]) + " " + b64_word("", "utf-8", "طلب".encode()[3:]), message_id="<cs10@x>")),
             subject="طلب"),
        # Recovered instead of quarantined.
        Case("boundary_never_appears", raw(*_head("From: a@example.com", "Subject: nb", "MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="----=_NextPart_000"', message_id="<rw1@x>"),
             body=b"Please cancel my order.\r\n"), text_has=["Please cancel my order."]),
        Case("junk_line_before_headers", b">From MAILER@example.com Mon Jan  6 10:00:00 2025\r\n" + raw(*_head("From: Layla <layla@example.com>", "Subject: junk first", message_id="<rw2@x>"), body=b"still readable\r\n"),
             subject="junk first", text_has=["still readable"], from_address="layla@example.com"),
        Case("two_from_headers_first_garbage", raw(*_head("From: ", "From: Layla <layla@example.com>", "Subject: two", message_id="<rw3@x>")), from_address="layla@example.com", from_name="Layla"),
        Case("badly_folded_header", raw("Subject: a subject that is long", "and was folded without whitespace", *_head("From: Layla <layla@example.com>", message_id="<rw4@x>"), body=b"the body\r\n"),
             subject="a subject that is long and was folded without whitespace", from_address="layla@example.com", text_has=["the body"]),
        Case("no_from_but_reply_to", raw(*_head("Reply-To: Layla <layla@example.com>", "Subject: rt", message_id="<rw5@x>")), from_address="layla@example.com", from_name="Layla"),
        Case("no_from_but_sender", raw(*_head("Sender: omar@example.org", "Subject: sd", message_id="<rw6@x>")), from_address="omar@example.org"),
        Case("mailer_daemon_without_domain", raw(*_head("From: MAILER-DAEMON (Mail Delivery System)", "Subject: Undelivered Mail Returned to Sender", message_id="<bounce.1@mx.example.net>"),
             body=b"This is the mail system at host mx.example.net.\r\n"), flags=["automated_sender", "bounce"], from_address="mailer-daemon@mx.example.net"),
        # Names.
        Case("forwarded_named_by_subject", _forwarded(subject="Invoice 4411: overdue?", message_id="<nm1@x>"), attachments=["Invoice 4411 overdue.eml"], text_has=["see below"]),
        Case("forwarded_arabic_subject", _forwarded(subject="فاتورة رقم 4411", message_id="<nm2@x>"), attachments=["فاتورة رقم 4411.eml"]),
        Case("unnamed_parts", _unnamed_parts(), attachments=["image001.jpg", "part-2.pdf"]),
    ]  # fmt: skip


def _unnamed_parts() -> bytes:
    """Outlook's inline image (named only by its Content-ID) and a PDF with no name at all."""
    body = (
        "--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<p>see</p><img src="cid:image001.jpg@01DA5F7A.B3C1D2E0">\r\n'
        "--R\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-ID: <image001.jpg@01DA5F7A.B3C1D2E0>\r\n\r\n/9j/4AAQ\r\n"
        "--R\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment\r\n\r\nJVBERi0xLjQ=\r\n--R--\r\n"
    )
    return raw(*_head("From: a@example.com", "Subject: parts", "MIME-Version: 1.0",
                      'Content-Type: multipart/related; boundary="R"', message_id="<nm3@x>"),
               body=body.encode())  # fmt: skip


def _cid_mail() -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Layla <layla@example.com>"
    msg["To"] = SUPPORT
    msg["Subject"] = "Screenshot"
    msg["Message-ID"] = "<c28@x>"
    msg.set_content("see the picture")
    msg.add_alternative('<p>see</p><img src="cid:logo1" alt="logo">', subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(
        b"\x89PNG\r\n\x1a\nfake", "image", "png", cid="<logo1>", filename="logo.png"
    )
    return msg.as_bytes()


def _forwarded(subject: str = "original", message_id: str = "<c44@x>") -> bytes:
    inner = EmailMessage(policy=SMTP)
    inner["From"] = "someone@else.example"
    inner["Subject"] = subject
    inner.set_content("original body")
    outer = EmailMessage(policy=SMTP)
    outer["From"] = "Layla <layla@example.com>"
    outer["To"] = SUPPORT
    outer["Subject"] = f"Fwd: {subject}"
    outer["Message-ID"] = message_id
    outer.set_content("see below")
    outer.add_attachment(inner)
    return outer.as_bytes()


# Bounces of a mail we sent, as real MTAs write them. `original` is the mail as our relay
# handed it on; `recipient` the address that failed.


def _report(head: list[str], boundary: str, parts: list[tuple[str, str | bytes]]) -> bytes:
    body = b"This is a MIME-encapsulated message.\r\n\r\n"
    for headers, content in parts:
        data = content if isinstance(content, bytes) else content.encode()
        body += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return raw(*head, body=body)


def _header_section(original: bytes) -> bytes:
    return original.split(b"\r\n\r\n", 1)[0] + b"\r\n"


def postfix_bounce(original: bytes, recipient: str) -> bytes:
    boundary = "4F1A2B3C4D.1764133200/mx.example.net"
    return _report(
        [
            "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
            "Subject: Undelivered Mail Returned to Sender",
            f"To: {SUPPORT}",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
            "Message-Id: <20261126050000.4F1A2B3C4D@mx.example.net>",
            f"Date: {DATE}",
        ],
        boundary,
        [
            ("Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii",
             "This is the mail system at host mx.example.net.\r\n\r\n"
             "I'm sorry to have to inform you that your message could not\r\n"
             "be delivered to one or more recipients. It's attached below.\r\n\r\n"
             f"<{recipient}>: host mx2.example.net[203.0.113.5] said: 550 5.1.1\r\n"
             f"    <{recipient}>: Recipient address rejected: User unknown in local\r\n"
             "    recipient table (in reply to RCPT TO command)\r\n"),
            ("Content-Description: Delivery report\r\nContent-Type: message/delivery-status",
             "Reporting-MTA: dns; mx.example.net\r\n"
             "X-Postfix-Queue-ID: 4F1A2B3C4D\r\n"
             f"X-Postfix-Sender: rfc822; {SUPPORT}\r\n"
             f"Arrival-Date: {DATE}\r\n\r\n"
             f"Final-Recipient: rfc822; {recipient}\r\n"
             f"Original-Recipient: rfc822;{recipient}\r\n"
             "Action: failed\r\nStatus: 5.1.1\r\n"
             "Remote-MTA: dns; mx2.example.net\r\n"
             f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:\r\n"
             "    User unknown in local recipient table\r\n"),
            ("Content-Description: Undelivered Message\r\nContent-Type: message/rfc822",
             original),
        ],
    )  # fmt: skip


def exchange_bounce(original: bytes, recipient: str) -> bytes:
    boundary = "_000_AM0PR01MB1234EURP_"
    return _report(
        [
            "From: Microsoft Outlook <postmaster@contoso.onmicrosoft.com>",
            f"To: {SUPPORT}",
            "Subject: Undeliverable: Re: Order #4411",
            "Message-ID: <0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>",
            "X-MS-Exchange-Message-Is-Ndr:",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
            f"Date: {DATE}",
        ],
        boundary,
        [
            ("Content-Type: text/plain; charset=us-ascii",
             f"Your message to {recipient} couldn't be delivered.\r\n"
             f"{recipient.split('@')[0]} wasn't found at {recipient.split('@')[1]}.\r\n"
             "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
             "Recipient not found by SMTP address lookup'\r\n"),
            ("Content-Type: message/delivery-status",
             "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com\r\n"
             "Received-From-MTA: dns;mail.frontdesk.test\r\n"
             f"Arrival-Date: {DATE}\r\n\r\n"
             f"Original-Recipient: rfc822;{recipient}\r\n"
             f"Final-Recipient: rfc822;{recipient}\r\n"
             "Action: failed\r\nStatus: 5.1.10\r\n"
             "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not\r\n"
             " found by SMTP address lookup\r\n"),
            ("Content-Type: text/rfc822-headers", _header_section(original)),
        ],
    )  # fmt: skip


def gmail_bounce(original_id: str, recipient: str) -> bytes:
    """Gmail's shape: answers the mail (In-Reply-To, References) and names the recipient in
    X-Failed-Recipients; this one returns no copy of the mail."""
    boundary = "000000000000a1b2c3d4e5f6"
    return _report(
        [
            "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
            f"To: {SUPPORT}",
            f"X-Failed-Recipients: {recipient}",
            "Auto-Submitted: auto-replied",
            "Subject: Delivery Status Notification (Failure)",
            f"References: {original_id}",
            f"In-Reply-To: {original_id}",
            "Message-ID: <5f0e1d2c.050a0220.3b2c1.abcd.GMR@mx.google.com>",
            f"Date: {DATE}",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/report; boundary="{boundary}"; report-type=delivery-status',
        ],
        boundary,
        [
            ("Content-Type: text/plain; charset=UTF-8",
             "** Address not found **\r\n\r\n"
             f"Your message wasn't delivered to {recipient} because the address couldn't be\r\n"
             "found, or is unable to receive mail.\r\n"),
            ("Content-Type: message/delivery-status",
             "Reporting-MTA: dns; googlemail.com\r\n"
             f"Arrival-Date: {DATE}\r\n\r\n"
             f"Final-Recipient: rfc822; {recipient}\r\n"
             "Action: failed\r\nStatus: 5.1.1\r\n"
             "Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c0b::1b, the server\r\n"
             " for the domain gmail.com.)\r\n"
             "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\r\n"
             " not exist. Please try double-checking the recipient's email address\r\n"),
        ],
    )  # fmt: skip


def qmail_bounce(original: bytes, recipient: str) -> bytes:
    """No MIME report: the failure and a copy of the mail in prose."""
    return raw(
        "From: MAILER-DAEMON@mail.example.org",
        f"To: {SUPPORT}",
        "Subject: failure notice",
        "Message-ID: <qmail-1764133200@mail.example.org>",
        f"Date: {DATE}",
        body=(
            b"Hi. This is the qmail-send program at mail.example.org.\r\n"
            b"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
            b"This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
            + f"<{recipient}>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n".encode()
            + b"--- Below this line is a copy of the message.\r\n\r\n"
            + original
        ),
    )


def delayed_dsn(original: bytes, recipient: str) -> bytes:
    boundary = "7C8D9E0F1A.1764133200/mx.example.net"
    return _report(
        [
            "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
            "Subject: Delayed Mail (still being retried)",
            f"To: {SUPPORT}",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
            "Message-Id: <20261126060000.7C8D9E0F1A@mx.example.net>",
            f"Date: {DATE}",
        ],
        boundary,
        [
            ("Content-Type: text/plain; charset=us-ascii",
             "This is the mail system at host mx.example.net.\r\n\r\n"
             "####################################################################\r\n"
             "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
             "####################################################################\r\n"),
            ("Content-Type: message/delivery-status",
             "Reporting-MTA: dns; mx.example.net\r\n\r\n"
             f"Final-Recipient: rfc822; {recipient}\r\n"
             "Action: delayed\r\nStatus: 4.4.1\r\n"
             "Diagnostic-Code: X-Postfix; connect to mx2.example.net[203.0.113.5]:25:\r\n"
             "    Connection timed out\r\n"
             "Will-Retry-Until: Thu, 3 Dec 2026 05:00:00 +0000 (UTC)\r\n"),
            ("Content-Type: text/rfc822-headers", _header_section(original)),
        ],
    )  # fmt: skip
