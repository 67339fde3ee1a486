# ruff: noqa: RUF001  (Arabic and Persian texts)
"""The demo organisation's knowledge base: a few articles in English, Arabic and Persian
(frontdesk demo / seed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.knowledge import service
from frontdesk.knowledge.schemas import ArticleCreate, OutOfScopeCreate, TranslationWrite

# (source, translations): each text is (language, title, body, questions).
Text = tuple[str, str, str, list[str]]
ARTICLES: list[tuple[Text, list[Text], str]] = [
    (
        ("en", "Where is my order?", "Orders ship within **2 working days**. Track yours from "
         "the link in your confirmation e-mail.", ["Where is my order?", "Track my parcel",
         "My order has not arrived"]),
        [
            ("ar", "أين طلبي؟", "تُشحن الطلبات خلال **يومي عمل**. تتبّع طلبك من الرابط في "
             "رسالة التأكيد.", ["أين طلبي؟", "تتبع الشحنة"]),
            ("fa", "سفارش من کجاست؟", "سفارش‌ها ظرف **۲ روز کاری** ارسال می‌شوند. از پیوند "
             "ایمیل تأیید، سفارش خود را پیگیری کنید.", ["سفارشم کجاست؟", "پیگیری بسته"]),
        ],
        "Orders",
    ),
    (
        ("en", "Refunds", "Refunds reach your card within **5 days** of our receiving the "
         "return.", ["How do I get a refund?", "When will I get my money back?"]),
        [
            ("ar", "استرداد المبلغ", "يصل المبلغ المسترد إلى بطاقتك خلال **٥ أيام** من "
             "استلامنا المرتجع.", ["كيف أسترد أموالي؟"]),
            ("fa", "بازپرداخت", "مبلغ ظرف **۵ روز** پس از دریافت کالای مرجوعی به کارت شما "
             "برمی‌گردد.", ["پولم را چطور پس بگیرم؟"]),
        ],
        "Billing",
    ),
    (
        ("en", "Reset your password", "Open **Settings → Security** and choose *Reset "
         "password*; a link arrives by e-mail.", ["I forgot my password", "I can't log in"]),
        [
            ("ar", "إعادة تعيين كلمة المرور", "افتح **الإعدادات ← الأمان** واختر *إعادة تعيين "
             "كلمة المرور*.", ["نسيت كلمة المرور"]),
            ("fa", "بازنشانی گذرواژه", "به **تنظیمات ← امنیت** بروید و *بازنشانی گذرواژه* را "
             "بزنید.", ["گذرواژه‌ام را فراموش کرده‌ام"]),
        ],
        "Account",
    ),
]  # fmt: skip


# Questions the demo's knowledge base cannot answer, as customers asked them over the last
# days (text, language, source, days ago): Settings → Knowledge base → Content gaps shows
# them as three clusters, one of them in Arabic and Persian spellings.
MISSES = [
    ("Do you ship to Canada?", "en", "bot", 1),
    ("do you ship to canada", "en", "portal", 2),
    ("Can you ship to Canada?", "en", "search", 4),
    ("Do you offer gift cards?", "en", "autocomplete", 3),
    ("هل يمكنني الدفع عند الاستلام؟", "ar", "bot", 1),
    ("هل یمکننی الدفع عند الاستلام", "ar", "portal", 5),
]  # fmt: skip


# Questions the demo shop does not answer on purpose (Settings → Knowledge base → Questions we
# do not answer): the intent model learns them as "none of these", so the bot hands them to a
# person instead of offering the nearest article.
OUT_OF_SCOPE = {
    "en": ["Are you hiring?", "Can I visit your warehouse?"],
    "ar": ["هل لديكم وظائف شاغرة؟"],
    "fa": ["آیا استخدام نیرو دارید؟"],
}


async def seed_gaps(session: AsyncSession, *, now: datetime | None = None) -> None:
    """The demo's content gaps (see MISSES)."""
    moment = now or utcnow()
    for text, language, source, days_ago in MISSES:
        await service.record_miss(
            session, text, language=language, source=source,
            now=moment - timedelta(days=days_ago),
        )  # fmt: skip


async def seed_articles(session: AsyncSession, *, author: Agent) -> None:
    """Published demo articles, each in English with Arabic and Persian translations."""
    for (language, title, body, questions), translations, category in ARTICLES:
        article = await service.create_article(
            session,
            ArticleCreate(
                language=language,
                title=title,
                body=body,
                status="published",
                category=category,
                questions=questions,
            ),
            author=author,
        )
        for t_language, t_title, t_body, t_questions in translations:
            await service.write_translation(
                session,
                article,
                TranslationWrite(
                    language=t_language, title=t_title, body=t_body, questions=t_questions
                ),
                author=author,
            )
    for language, questions in OUT_OF_SCOPE.items():
        await service.add_out_of_scope(
            session, OutOfScopeCreate(language=language, questions=questions), author=author
        )
    await seed_gaps(session)
