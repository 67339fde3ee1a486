"""All SQL of the knowledge base, the full-text queries of both databases included."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db import insert_for
from frontdesk.knowledge.models import (
    Article,
    Feedback,
    Gap,
    IndexStamp,
    IntentModel,
    OutOfScopeQuestion,
    Question,
    Translation,
    Version,
)

# PostgreSQL: each translation's search document, stored by the database (a generated column of
# migration 0056: the title's words weighted 'A', then the body's), with a GIN index on it.
# Ranking and rechecking a match read it; parsing the text again for each of a common word's
# thousands of matches made a search 20 times slower.
PG_DOCUMENT = "search_document"


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def get_article(session: AsyncSession, article_id: int) -> Article | None:
    return await session.get(Article, article_id)


async def list_articles(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    category: str | None,
    after: int | None,
    limit: int,
) -> Sequence[Article]:
    query = select(Article).where(Article.status.in_(statuses))
    if category is not None:
        query = query.where(Article.category == category)
    if after is not None:
        query = query.where(Article.id > after)
    return (await session.scalars(query.order_by(Article.id).limit(limit))).all()


async def all_articles(session: AsyncSession) -> Sequence[Article]:
    return (await session.scalars(select(Article).order_by(Article.id))).all()


async def translations_of(
    session: AsyncSession, article_ids: Sequence[int]
) -> dict[int, list[Translation]]:
    found: dict[int, list[Translation]] = {article_id: [] for article_id in article_ids}
    if not article_ids:
        return found
    rows = await session.scalars(
        select(Translation)
        .where(Translation.article_id.in_(article_ids))
        .order_by(Translation.article_id, Translation.id)
    )
    for row in rows:
        found[row.article_id].append(row)
    return found


@dataclass(frozen=True, slots=True)
class HitText:
    article_id: int
    language: str
    title: str
    html: str


async def hit_texts(session: AsyncSession, article_ids: Sequence[int]) -> dict[int, list[HitText]]:
    """What a search result shows of each language of each article (no bodies or vectors)."""
    found: dict[int, list[HitText]] = {article_id: [] for article_id in article_ids}
    if not article_ids:
        return found
    rows = await session.execute(
        select(Translation.article_id, Translation.language, Translation.title, Translation.html)
        .where(Translation.article_id.in_(article_ids))
        .order_by(Translation.id)
    )
    for article_id, language, title, html in rows:
        found[article_id].append(HitText(article_id, language, title, html))
    return found


async def get_translation(
    session: AsyncSession, article_id: int, language: str
) -> Translation | None:
    return await session.scalar(
        select(Translation).where(
            Translation.article_id == article_id, Translation.language == language
        )
    )


async def translations_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Translation]:
    if not ids:
        return {}
    rows = await session.scalars(select(Translation).where(Translation.id.in_(ids)))
    return {row.id: row for row in rows}


async def questions_of(
    session: AsyncSession, article_ids: Sequence[int]
) -> dict[tuple[int, str], list[str]]:
    found: dict[tuple[int, str], list[str]] = {}
    if not article_ids:
        return found
    rows = await session.execute(
        select(Question.article_id, Question.language, Question.text)
        .where(Question.article_id.in_(article_ids))
        .order_by(Question.id)
    )
    for article_id, language, question in rows:
        found.setdefault((article_id, language), []).append(question)
    return found


async def replace_questions(
    session: AsyncSession, article_id: int, language: str, rows: list[dict[str, Any]]
) -> None:
    await session.execute(
        delete(Question).where(Question.article_id == article_id, Question.language == language)
    )
    session.add_all(
        Question(article_id=article_id, language=language, text=row["text"], vector=row["vector"])
        for row in rows
    )


async def next_version_number(session: AsyncSession, article_id: int, language: str) -> int:
    latest = await session.scalar(
        select(func.max(Version.number)).where(
            Version.article_id == article_id, Version.language == language
        )
    )
    return int(latest or 0) + 1


async def list_versions(session: AsyncSession, article_id: int) -> Sequence[Version]:
    return (
        await session.scalars(
            select(Version)
            .where(Version.article_id == article_id)
            .order_by(Version.language, Version.number.desc())
        )
    ).all()


async def feedback_summary(session: AsyncSession, article_id: int) -> list[tuple[str, bool, int]]:
    rows = await session.execute(
        select(Feedback.language, Feedback.helpful, func.count())
        .where(Feedback.article_id == article_id)
        .group_by(Feedback.language, Feedback.helpful)
        .order_by(Feedback.language)
    )
    return [(language, bool(helpful), int(count)) for language, helpful, count in rows]


async def delete_article(session: AsyncSession, article: Article) -> None:
    ids = (
        await session.scalars(select(Translation.id).where(Translation.article_id == article.id))
    ).all()
    await fts_forget(session, list(ids))
    await session.delete(article)


# --- Full text --------------------------------------------------------------------------


async def fts_store(session: AsyncSession, translation: Translation) -> None:
    """Keep the SQLite FTS table in step with a written translation (PostgreSQL's index is
    an expression over the row itself)."""
    if _postgres(session):
        return
    await session.flush()
    await fts_forget(session, [translation.id])
    await session.execute(
        text("INSERT INTO kb_fts(rowid, title, body) VALUES (:id, :title, :body)"),
        {"id": translation.id, "title": translation.search_title, "body": translation.search_body},
    )


async def fts_forget(session: AsyncSession, translation_ids: list[int]) -> None:
    if _postgres(session) or not translation_ids:
        return
    for translation_id in translation_ids:
        await session.execute(text("DELETE FROM kb_fts WHERE rowid = :id"), {"id": translation_id})


async def fts_word_scores(session: AsyncSession, word: str) -> tuple[np.ndarray, np.ndarray]:
    """Every translation holding the search key `word` (ids, in no set order) and the
    full-text engine's score of it for that word alone, higher better (knowledge.lexical
    sums them)."""
    if _postgres(session):
        sql = (
            f"SELECT id, ts_rank({PG_DOCUMENT}, to_tsquery('simple', :query)) FROM kb_translations"
            f" WHERE {PG_DOCUMENT} @@ to_tsquery('simple', :query)"
        )
        query = f"'{word}'"  # a search key: letters, marks and digits only
    else:
        # `rank` is bm25(3.0, 1.0), lower better.
        sql = "SELECT rowid, -rank FROM kb_fts WHERE kb_fts MATCH :query"
        query = f'"{word}"'
    rows = (await session.execute(text(sql), {"query": query})).all()
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    scores = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
    return ids, scores


# --- What the in-memory index loads ------------------------------------------------------


async def index_translations(session: AsyncSession) -> list[tuple[Any, ...]]:
    """(translation id, article id, language, status, title, vector) of every non-draft."""
    rows = await session.execute(
        select(
            Translation.id,
            Translation.article_id,
            Translation.language,
            Article.status,
            Translation.title,
            Translation.vector,
        )
        .join(Article, Article.id == Translation.article_id)
        .where(Article.status != "draft")
        .order_by(Translation.id)
    )
    return [tuple(row) for row in rows]


async def index_questions(session: AsyncSession) -> list[tuple[Any, ...]]:
    """(article id, language, status, text, vector) of every non-draft article's questions."""
    rows = await session.execute(
        select(
            Question.article_id, Question.language, Article.status, Question.text, Question.vector
        )
        .join(Article, Article.id == Question.article_id)
        .where(Article.status != "draft")
        .order_by(Question.id)
    )
    return [tuple(row) for row in rows]


async def pending_translations(
    session: AsyncSession, *, vector_bytes: int, limit: int
) -> list[tuple[int, str, str, datetime]]:
    """(id, title, html, updated_at) of translations whose stored vector is not the
    embedder's (written for the embed job, or by another embedder). A scan of the table: the
    embed job's query, never a search's."""
    rows = await session.execute(
        select(Translation.id, Translation.title, Translation.html, Translation.updated_at)
        .where(func.length(Translation.vector) != vector_bytes)
        .order_by(Translation.id)
        .limit(limit)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def pending_questions(
    session: AsyncSession, *, vector_bytes: int, limit: int
) -> list[tuple[int, str]]:
    """(id, text) of example questions whose stored vector is not the embedder's."""
    rows = await session.execute(
        select(Question.id, Question.text)
        .where(func.length(Question.vector) != vector_bytes)
        .order_by(Question.id)
        .limit(limit)
    )
    return [(int(i), str(t)) for i, t in rows]


async def store_translation_vectors(
    session: AsyncSession, rows: list[tuple[int, datetime, bytes]]
) -> None:
    """Write computed vectors; a translation saved again since it was read (another
    updated_at) keeps its pending vector for the next embed job."""
    for translation_id, seen, blob in rows:
        await session.execute(
            update(Translation)
            .where(Translation.id == translation_id, Translation.updated_at == seen)
            .values(vector=blob)
            .execution_options(synchronize_session=False)
        )


async def store_question_vectors(session: AsyncSession, rows: list[tuple[int, bytes]]) -> None:
    """Write computed vectors; a question replaced since (a new row) is simply not found."""
    for question_id, blob in rows:
        await session.execute(
            update(Question)
            .where(Question.id == question_id)
            .values(vector=blob)
            .execution_options(synchronize_session=False)
        )


async def get_stamp(session: AsyncSession) -> str:
    # Uses index: the primary key; one row.
    return str(await session.scalar(select(IndexStamp.stamp).where(IndexStamp.id == 1)) or "")


async def renew_stamp(session: AsyncSession) -> None:
    insert = insert_for(session)
    stamp = uuid.uuid4().hex
    statement = insert(IndexStamp).values(id=1, stamp=stamp)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["id"], set_={"stamp": stamp})
    )


async def get_intent_model(session: AsyncSession, embedder: str) -> IntentModel | None:
    # Uses index: the unique constraint on embedder; one row.
    return await session.scalar(select(IntentModel).where(IntentModel.embedder == embedder))


async def save_intent_model(
    session: AsyncSession, *, embedder: str, fingerprint: str, data: bytes, articles: int,
    examples: int, threshold: float, now: datetime,
) -> None:  # fmt: skip
    """Insert or replace the embedder's head (one row per embedder)."""
    insert = insert_for(session)
    values = {
        "fingerprint": fingerprint, "data": data, "articles": articles, "examples": examples,
        "threshold": threshold, "trained_at": now,
    }  # fmt: skip
    statement = insert(IntentModel).values(embedder=embedder, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["embedder"], set_=values))


# --- Questions no article answers ----------------------------------------------------------


async def add_out_of_scope(
    session: AsyncSession, language: str, rows: list[dict[str, Any]], *, author_id: int | None,
    now: datetime,
) -> None:  # fmt: skip
    """Store questions (`text`, `key`, `vector`) in `language`; a key the language already
    has is kept as it is (a concurrent admin's insert too: no error)."""
    if not rows:
        return
    insert = insert_for(session)
    statement = insert(OutOfScopeQuestion).values(
        [{"language": language, "author_id": author_id, "created_at": now, **row} for row in rows]
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["language", "key"]))


async def out_of_scope_by_key(
    session: AsyncSession, language: str, keys: Sequence[str]
) -> dict[str, OutOfScopeQuestion]:
    if not keys:
        return {}
    # Uses index: the unique constraint on (language, key).
    rows = await session.scalars(
        select(OutOfScopeQuestion).where(
            OutOfScopeQuestion.language == language, OutOfScopeQuestion.key.in_(keys)
        )
    )
    return {row.key: row for row in rows}


async def list_out_of_scope(
    session: AsyncSession, *, language: str | None, after: int | None, limit: int
) -> Sequence[OutOfScopeQuestion]:
    query = select(OutOfScopeQuestion)
    if language:
        query = query.where(
            (OutOfScopeQuestion.language == language)
            | OutOfScopeQuestion.language.like(f"{language}-%")
        )
    if after is not None:
        query = query.where(OutOfScopeQuestion.id > after)
    return (await session.scalars(query.order_by(OutOfScopeQuestion.id).limit(limit))).all()


async def get_out_of_scope(session: AsyncSession, question_id: int) -> OutOfScopeQuestion | None:
    return await session.get(OutOfScopeQuestion, question_id)


async def delete_out_of_scope(session: AsyncSession, question: OutOfScopeQuestion) -> None:
    await session.delete(question)


async def index_out_of_scope(session: AsyncSession) -> list[tuple[str, bytes]]:
    """(text, vector) of every question no article answers, in the order they were added."""
    rows = await session.execute(
        select(OutOfScopeQuestion.text, OutOfScopeQuestion.vector).order_by(OutOfScopeQuestion.id)
    )
    return [(str(t), bytes(v)) for t, v in rows]


async def pending_out_of_scope(
    session: AsyncSession, *, vector_bytes: int, limit: int
) -> list[tuple[int, str]]:
    """(id, text) of questions no article answers whose vector is not the embedder's."""
    rows = await session.execute(
        select(OutOfScopeQuestion.id, OutOfScopeQuestion.text)
        .where(func.length(OutOfScopeQuestion.vector) != vector_bytes)
        .order_by(OutOfScopeQuestion.id)
        .limit(limit)
    )
    return [(int(i), str(t)) for i, t in rows]


async def store_out_of_scope_vectors(session: AsyncSession, rows: list[tuple[int, bytes]]) -> None:
    for question_id, blob in rows:
        await session.execute(
            update(OutOfScopeQuestion)
            .where(OutOfScopeQuestion.id == question_id)
            .values(vector=blob)
            .execution_options(synchronize_session=False)
        )


# --- Content gaps -----------------------------------------------------------------------


async def count_gap(
    session: AsyncSession, *, day: str, source: str, language: str, key: str, example: str,
    now: datetime,
) -> None:  # fmt: skip
    """One more miss of `key` on `day` (a new row, or the existing row's counter)."""
    insert = insert_for(session)
    statement = insert(Gap).values(
        day=day, source=source, language=language, key=key, example=example, count=1,
        first_seen=now, last_seen=now,
    )  # fmt: skip
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "source", "language", "key"],
            set_={"count": Gap.count + 1, "last_seen": now, "example": example},
        )
    )


async def gap_with_key(
    session: AsyncSession, *, day: str, source: str, language: str, keys: Sequence[str]
) -> Gap | None:
    """The longest of `keys` recorded on `day` (autocomplete: what was typed before)."""
    if not keys:
        return None
    return await session.scalar(
        select(Gap)
        .where(Gap.day == day, Gap.source == source, Gap.language == language, Gap.key.in_(keys))
        .order_by(func.length(Gap.key).desc())
        .limit(1)
    )


async def gaps_on(session: AsyncSession, *, day: str, sources: Sequence[str]) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Gap).where(Gap.day == day, Gap.source.in_(sources))
        )
        or 0
    )


async def gap_totals(
    session: AsyncSession, *, since: datetime, language: str | None, limit: int
) -> list[tuple[str, str, str, int, datetime, datetime]]:
    """(key, language, an example, count, first seen, last seen) per key and language
    since `since`, most missed first, at most `limit`. Of a key's wordings the least in
    code-point order is shown: capitalised ("Do you …") before lower case ("do you …")."""
    total = func.sum(Gap.count).label("total")
    query = (
        select(
            Gap.key,
            Gap.language,
            func.min(Gap.example),
            total,
            func.min(Gap.first_seen),
            func.max(Gap.last_seen),
        )
        .where(Gap.last_seen >= since)
        # A question an admin marked as one no article answers is no gap any more.
        .where(Gap.key.not_in(select(OutOfScopeQuestion.key)))
        .group_by(Gap.key, Gap.language)
        .order_by(total.desc(), Gap.key, Gap.language)
        .limit(limit)
    )
    if language:
        query = query.where((Gap.language == language) | Gap.language.like(f"{language}-%"))
    rows = await session.execute(query)
    return [
        (key, lang, example, int(count), first, last)
        for key, lang, example, count, first, last in rows
    ]
