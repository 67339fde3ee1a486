"""`frontdesk kb import` / `kb export`: articles as JSON Lines, one article a line with its
translations, in the shape the API takes (docs/knowledge.md)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Annotated

from pydantic import Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.kit.errors import Invalid, invalid_input
from frontdesk.kit.schemas import Id
from frontdesk.knowledge import repository, service
from frontdesk.knowledge.schemas import ArticleCreate, TranslationWrite


class ArticleLine(ArticleCreate):
    """One line of an import: an article and its other languages. An exported line's `id`
    is accepted and ignored: importing always creates new articles."""

    id: Id | None = None
    translations: Annotated[list[TranslationWrite], Field(max_length=200)] = []


def parse_line(line: str, number: int) -> ArticleLine:
    try:
        return ArticleLine.model_validate(json.loads(line))
    except json.JSONDecodeError as exc:
        raise Invalid(f"line {number}: not JSON ({exc.msg})") from exc
    except ValidationError as exc:
        raise invalid_input(exc.errors(), where=[f"line {number}"]) from exc


async def import_lines(session: AsyncSession, lines: Iterable[str]) -> int:
    """Create one article per non-blank line; all or nothing (the caller commits). Answers
    how many were created."""
    created = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        data = parse_line(line, number)
        article = await service.create_article(
            session, ArticleCreate(**data.model_dump(exclude={"translations", "id"})), author=None
        )
        for translation in data.translations:
            if translation.language != article.source_language:
                await service.write_translation(session, article, translation, author=None)
        created += 1
    return created


async def export_lines(session: AsyncSession) -> AsyncIterator[str]:
    """Every article (drafts included) as one JSON line, oldest first; importable as is."""
    for article in await repository.all_articles(session):
        read = await service.read_article(session, article)
        line = {
            "id": read.id,
            "language": read.language,
            "title": read.title,
            "body": read.body,
            "status": read.status,
            "category": read.category,
            "tags": read.tags,
            "questions": read.questions,
            "translations": [
                {"language": t.language, "title": t.title, "body": t.body, "questions": t.questions}
                for t in read.translations
                if t.language != read.language
            ],
        }
        yield json.dumps(line, ensure_ascii=False)
