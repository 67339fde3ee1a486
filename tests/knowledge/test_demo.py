"""The demo's articles: English with Arabic and Persian translations, answerable in each."""

from __future__ import annotations

from frontdesk.auth import service as auth
from frontdesk.auth.schemas import AgentCreate
from frontdesk.kit import uow
from frontdesk.knowledge import search, service
from frontdesk.knowledge.demo import ARTICLES, OUT_OF_SCOPE, seed_articles
from frontdesk.runtime import Runtime


async def test_demo_articles_answer_in_three_languages(runtime: Runtime):
    async with runtime.db.session() as session:
        admin = await auth.create_agent(
            session,
            AgentCreate(email="a@demo.test", name="A", password="a-password-1", role="admin"),
        )
        await seed_articles(session, author=admin)
        await uow.commit(session)
    async with runtime.db.session() as session:
        for text, language, title in (
            ("I forgot my password", "en", "Reset your password"),
            ("نسيت كلمة المرور", "ar", "إعادة تعيين كلمة المرور"),
            ("سفارشم کجاست", "fa", "سفارش من کجاست؟"),
        ):
            result = await search.answer(session, text, language=language)
            assert result.answer is not None, text
            assert result.answer.language == language
            assert result.candidates[0].title == title
        suggestions = await search.autocomplete(session, "پیگ", language="fa")
        assert [s.text for s in suggestions] == ["پیگیری بسته"]
    assert len(ARTICLES) >= 3
    async with runtime.db.session() as session:
        report = await service.gap_report(session, since=None, language=None)
    assert [(c.count, c.languages) for c in report.items] == [(3, ["en"]), (2, ["ar"]), (1, ["en"])]
    assert "Canada" in report.items[0].text
    async with runtime.db.session() as session:
        marked = await service.list_out_of_scope(session)
    assert sorted((q.language, q.text) for q in marked) == sorted(
        (language, text) for language, texts in OUT_OF_SCOPE.items() for text in texts
    )
