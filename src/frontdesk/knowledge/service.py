"""Knowledge-base rules: who reads which article, and the only writers (articles,
translations with their versions and example questions, feedback)."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.db import utcnow
from frontdesk.kit import jobs, uow
from frontdesk.kit.errors import NotFound
from frontdesk.kit.pci import redact_cards
from frontdesk.kit.text import search_tokens, stemmed_tokens
from frontdesk.knowledge import gaps, intents, repository
from frontdesk.knowledge import index as knowledge_index
from frontdesk.knowledge.embedding import DEFAULT_EMBEDDER, Embedder, to_blob
from frontdesk.knowledge.markdown import plain_text, render
from frontdesk.knowledge.models import (
    Article,
    Feedback,
    OutOfScopeQuestion,
    Translation,
    Version,
)
from frontdesk.knowledge.schemas import (
    ArticleCreate,
    ArticleRead,
    ArticleUpdate,
    FeedbackCreate,
    FeedbackSummary,
    GapReport,
    OutOfScopeCreate,
    OutOfScopeRead,
    TranslationRead,
    TranslationWrite,
    VersionRead,
)

PUBLIC = ("published",)
STAFF = ("published", "internal")
EVERY_STATUS = ("draft", "published", "internal")
# The job that computes vectors after the commit when the embedder is a model.
EMBED_JOB = "knowledge.embed"
# The job that retrains the intent head after example questions (or their vectors) change.
TRAIN_JOB = "knowledge.train_intents"
# Texts per embed job run (one transaction): about 10 s of one core for the model.
EMBED_BATCH = 256
# A vector not computed yet: no embedder writes an empty one.
PENDING = b""
# How much of a body the search vector reads: the opening says what an article is about
# (full text covers the rest; more words only blur a hashed vector).
VECTOR_BODY_CHARS = 300
# Content gaps. Sources that anyone may call without signing in share a cap of new rows per
# day (past it their misses are not recorded; the agents' and the bot's always are).
GAP_SOURCES = ("search", "portal", "autocomplete", "answer", "bot")
PUBLIC_GAP_SOURCES = ("portal", "autocomplete")
PUBLIC_GAPS_PER_DAY = 2_000
GAP_KEY_CHARS = 200
GAP_EXAMPLE_CHARS = 300
GAP_DAYS = 30
# Distinct wordings read for a report (most missed first); the long tail past them is noise.
GAP_REPORT_KEYS = 5_000


def readable_statuses(agent: Agent | None) -> tuple[str, ...]:
    """Admins (the authors) see drafts; other agents published and internal articles; the
    public only published ones."""
    if agent is None:
        return PUBLIC
    return EVERY_STATUS if agent.role == "admin" else STAFF


async def get_or_raise(
    session: AsyncSession, article_id: int, *, statuses: Sequence[str]
) -> Article:
    """The article if the caller may read it; else 404, the same as for no article at all."""
    article = await repository.get_article(session, article_id)
    if article is None or article.status not in statuses:
        raise NotFound("article not found")
    return article


async def create_article(
    session: AsyncSession,
    data: ArticleCreate,
    *,
    author: Agent | None,
    embedder: Embedder = DEFAULT_EMBEDDER,
) -> Article:
    """A new article with its source-language text and example questions."""
    article = Article(
        source_language=data.language,
        status=data.status,
        category=data.category,
        tags=list(dict.fromkeys(data.tags)),
        revision=1,
        author_id=author.id if author else None,
    )
    session.add(article)
    await session.flush()
    text = TranslationWrite(
        language=data.language, title=data.title, body=data.body, questions=data.questions
    )
    await _write_translation(session, article, text, author=author, embedder=embedder)
    await _changed(session)
    return article


async def update_article(
    session: AsyncSession,
    article: Article,
    data: ArticleUpdate,
    *,
    author: Agent | None,
    embedder: Embedder = DEFAULT_EMBEDDER,
) -> Article:
    """Change status, category or tags, and the source text (a new version when the title
    or body changes, which makes the other languages' translations stale)."""
    if data.status is not None:
        article.status = data.status
    if "category" in data.model_fields_set:
        article.category = data.category
    if data.tags is not None:
        article.tags = list(dict.fromkeys(data.tags))
    if data.title is not None or data.body is not None or data.questions is not None:
        source = await repository.get_translation(session, article.id, article.source_language)
        assert source is not None  # written with the article, deleted only with it
        kept = await repository.questions_of(session, [article.id])
        text = TranslationWrite(
            language=article.source_language,
            title=data.title if data.title is not None else source.title,
            body=data.body if data.body is not None else source.body,
            questions=data.questions
            if data.questions is not None
            else kept.get((article.id, article.source_language), []),
        )
        await _write_translation(session, article, text, author=author, embedder=embedder)
    article.updated_at = utcnow()
    await _changed(session)
    return article


async def write_translation(
    session: AsyncSession,
    article: Article,
    data: TranslationWrite,
    *,
    author: Agent | None,
    embedder: Embedder = DEFAULT_EMBEDDER,
) -> Translation:
    """Add the article in another language, or replace the text of one it has."""
    translation = await _write_translation(session, article, data, author=author, embedder=embedder)
    article.updated_at = utcnow()
    await _changed(session)
    return translation


async def delete_article(session: AsyncSession, article: Article) -> None:
    await repository.delete_article(session, article)
    await _changed(session)


async def _write_translation(
    session: AsyncSession,
    article: Article,
    data: TranslationWrite,
    *,
    author: Agent | None,
    embedder: Embedder,
) -> Translation:
    html = render(data.body)
    plain = plain_text(html)
    translation = await repository.get_translation(session, article.id, data.language)
    changed = translation is None or (translation.title, translation.body) != (
        data.title,
        data.body,
    )
    number = (
        await repository.next_version_number(session, article.id, data.language) if changed else 0
    )
    fresh = translation is None
    if translation is None:
        translation = Translation(article_id=article.id, language=data.language, version=0)
    if changed:
        translation.version += 1
        session.add(
            Version(
                article_id=article.id,
                language=data.language,
                number=number,
                title=data.title,
                body=data.body,
                author_id=author.id if author else None,
            )
        )
        if data.language == article.source_language and translation.version > 1:
            article.revision += 1
    translation.title = data.title
    translation.body = data.body
    translation.html = html
    translation.search_title = " ".join(stemmed_tokens(data.title))
    translation.search_body = " ".join(stemmed_tokens(" ".join([plain, *data.questions])))
    if embedder.inline:
        vectors = [
            embedder.embed([passage_text(data.title, plain)], kind="passage")[0],
            *embedder.embed(list(data.questions), kind="query"),
        ]
        blobs = [to_blob(vector) for vector in vectors]
    else:
        # A model's forward pass costs about a millisecond a token: the vectors are computed
        # by a job after the commit (knowledge/tasks.py). Until then full text and autocomplete
        # find the article; the vector search does not.
        blobs = [PENDING] * (1 + len(data.questions))
        await jobs.enqueue(session, EMBED_JOB, {})
    translation.vector = blobs[0]
    if changed:
        # Written against the source as it is now (for the source itself: always current).
        translation.based_on_revision = article.revision
    translation.updated_at = utcnow()
    if fresh:
        session.add(translation)
    await repository.replace_questions(
        session,
        article.id,
        data.language,
        [{"text": q, "vector": blob} for q, blob in zip(data.questions, blobs[1:], strict=True)],
    )
    await repository.fts_store(session, translation)
    return translation


async def _changed(session: AsyncSession) -> None:
    """Every process's index is stale: a new stamp in this transaction; this process also
    stops trusting its last stamp read once the transaction commits. The intent head is
    retrained after the commit (once per transaction; a no-op when no example changed)."""
    await _renew(session)
    if not session.info.get(TRAIN_JOB):
        session.info[TRAIN_JOB] = True
        await jobs.enqueue(session, TRAIN_JOB, {})


async def _renew(session: AsyncSession) -> None:
    await repository.renew_stamp(session)
    engine = session.get_bind()

    async def forget() -> None:
        knowledge_index.forget(engine)

    uow.after_commit(session, forget)


def passage_text(title: str, plain: str) -> str:
    """What a translation's vector reads: the title and the opening of the body."""
    return f"{title}\n{plain[:VECTOR_BODY_CHARS]}"


async def embed_pending(
    session: AsyncSession, *, embedder: Embedder = DEFAULT_EMBEDDER, limit: int = EMBED_BATCH
) -> int:
    """Compute the vectors still missing (or written by another embedder), at most `limit`
    texts; answers how many were computed (the embed job runs again while it is `limit`).
    The forward passes run in a thread: the event loop keeps serving meanwhile."""
    vector_bytes = embedder.dim * 4
    translations = await repository.pending_translations(
        session, vector_bytes=vector_bytes, limit=limit
    )
    questions = (
        await repository.pending_questions(
            session, vector_bytes=vector_bytes, limit=limit - len(translations)
        )
        if len(translations) < limit
        else []
    )
    if translations:
        passages = [passage_text(title, plain_text(html)) for _, title, html, _ in translations]
        vectors = await asyncio.to_thread(embedder.embed, passages, kind="passage")
        await repository.store_translation_vectors(
            session,
            [(t[0], t[3], to_blob(v)) for t, v in zip(translations, vectors, strict=True)],
        )
    if questions:
        vectors = await asyncio.to_thread(embedder.embed, [q for _, q in questions], kind="query")
        await repository.store_question_vectors(
            session, [(q[0], to_blob(v)) for q, v in zip(questions, vectors, strict=True)]
        )
    rejected = (
        await repository.pending_out_of_scope(
            session, vector_bytes=vector_bytes, limit=limit - len(translations) - len(questions)
        )
        if len(translations) + len(questions) < limit
        else []
    )
    if rejected:
        vectors = await asyncio.to_thread(embedder.embed, [q for _, q in rejected], kind="query")
        await repository.store_out_of_scope_vectors(
            session, [(q[0], to_blob(v)) for q, v in zip(rejected, vectors, strict=True)]
        )
    done = len(translations) + len(questions) + len(rejected)
    if done:
        await _changed(session)
    return done


async def train_intents(
    session: AsyncSession, *, embedder: Embedder = DEFAULT_EMBEDDER
) -> intents.IntentHead | None:
    """Retrain and store the intent head when the published example questions differ from
    what the stored head was trained on; answers the head now in use (None: too few
    articles, or vectors still being computed: the embed job's last run enqueues this again;
    or hashed vectors, where nearest-question scoring measured better: xSID English 91.2 %
    against the head's 87.4 %)."""
    if embedder.reweight:
        return None
    if await repository.pending_questions(
        session, vector_bytes=embedder.dim * 4, limit=1
    ) or await repository.pending_out_of_scope(session, vector_bytes=embedder.dim * 4, limit=1):
        return None
    idx = await knowledge_index.current(session, embedder)
    if idx.head is not None:
        return idx.head
    stored = await repository.get_intent_model(session, embedder.name)
    if stored is not None and stored.fingerprint == idx.fingerprint:
        return intents.IntentHead.from_bytes(stored.fingerprint, stored.data)
    x, articles, texts = idx.training_rows()
    # Seconds of CPU at 10,000 questions: off the event loop.
    head = await asyncio.to_thread(
        functools.partial(
            intents.train, x, articles, fingerprint=idx.fingerprint, floor=embedder.floor,
            texts=texts, rejects=idx.rejects, reject_texts=idx.reject_texts,
        )
    )  # fmt: skip
    if head is None:
        return None
    await repository.save_intent_model(
        session,
        embedder=embedder.name,
        fingerprint=head.fingerprint,
        data=head.to_bytes(),
        articles=len(head.articles),
        examples=len(articles),
        threshold=head.threshold,
        now=utcnow(),
    )
    # Every process reloads its index with the new head (not _changed: no retraining).
    await _renew(session)
    return head


async def read_article(session: AsyncSession, article: Article) -> ArticleRead:
    translations = (await repository.translations_of(session, [article.id]))[article.id]
    questions = await repository.questions_of(session, [article.id])
    reads = [
        TranslationRead(
            language=t.language,
            title=t.title,
            body=t.body,
            html=t.html,
            questions=questions.get((article.id, t.language), []),
            version=t.version,
            stale=t.language != article.source_language and t.based_on_revision < article.revision,
            updated_at=t.updated_at,
        )
        for t in translations
    ]
    source = next(r for r in reads if r.language == article.source_language)
    return ArticleRead(
        id=article.id,
        language=article.source_language,
        status=article.status,
        category=article.category,
        tags=list(article.tags),
        title=source.title,
        body=source.body,
        html=source.html,
        questions=source.questions,
        revision=article.revision,
        translations=reads,
        created_at=article.created_at,
        updated_at=article.updated_at,
    )


async def list_articles(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    category: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[ArticleRead]:
    articles = await repository.list_articles(
        session, statuses=statuses, category=category, after=after, limit=limit
    )
    return [await read_article(session, article) for article in articles]


async def versions(session: AsyncSession, article: Article) -> list[VersionRead]:
    rows = await repository.list_versions(session, article.id)
    return [
        VersionRead(
            language=v.language,
            number=v.number,
            title=v.title,
            body=v.body,
            author_id=v.author_id,
            created_at=v.created_at,
        )
        for v in rows
    ]


async def add_feedback(session: AsyncSession, article: Article, data: FeedbackCreate) -> None:
    """Record whether the article helped, in the language it was read in."""
    if await repository.get_translation(session, article.id, data.language) is None:
        raise NotFound("the article has no text in that language", code="translation_not_found")
    session.add(
        Feedback(
            article_id=article.id,
            language=data.language,
            helpful=data.helpful,
            comment=data.comment or None,
        )
    )


async def feedback_summary(session: AsyncSession, article: Article) -> list[FeedbackSummary]:
    summary: dict[str, FeedbackSummary] = {}
    for language, helpful, count in await repository.feedback_summary(session, article.id):
        row = summary.setdefault(
            language, FeedbackSummary(language=language, helpful=0, not_helpful=0)
        )
        if helpful:
            row.helpful = count
        else:
            row.not_helpful = count
    return list(summary.values())


async def record_miss(
    session: AsyncSession, text: str, *, language: str | None, source: str,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Count a search or question with no good answer (see knowledge.gaps). Autocomplete
    sends every keystroke: a miss that extends an earlier one of the same day replaces it,
    so one customer typing one question counts once."""
    assert source in GAP_SOURCES, source
    text = _anonymous(text)
    key = gap_key(text)
    if not key:
        return
    moment = now or utcnow()
    day = moment.date().isoformat()
    lang = (language or "")[:35]
    example = " ".join(text.split())[:GAP_EXAMPLE_CHARS]
    if source == "autocomplete":
        earlier = [key[:size] for size in range(1, len(key) + 1)]
        typed = await repository.gap_with_key(
            session, day=day, source=source, language=lang, keys=earlier
        )
        if typed is not None and typed.key != key:
            typed.key, typed.example, typed.last_seen = key, example, moment
            await session.flush()
            return
    if source in PUBLIC_GAP_SOURCES:
        recorded = await repository.gaps_on(session, day=day, sources=PUBLIC_GAP_SOURCES)
        if recorded >= PUBLIC_GAPS_PER_DAY:
            return
    await repository.count_gap(
        session, day=day, source=source, language=lang, key=key, example=example, now=moment
    )


def gap_key(text: str) -> str:
    """What a miss is counted under: the words of its search key (kit.text), so spellings of
    one question (case, ي/ی, diacritics, digits) are one key."""
    return " ".join(search_tokens(_anonymous(text)))[:GAP_KEY_CHARS].strip()


# A report is read by every admin: what customers typed loses its e-mail addresses, card
# numbers and other long numbers (phone, order, account) before it is stored.
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_LONG_NUMBER = re.compile(r"(?:\d[\s.-]?){6,}\d")


def _anonymous(text: str) -> str:
    text = _EMAIL.sub("[email]", redact_cards(text))
    return _LONG_NUMBER.sub("[number]", text)


async def gap_report(
    session: AsyncSession, *, since: datetime | None, language: str | None
) -> GapReport:
    """Clusters of similar misses since `since` (default: the last 30 days)."""
    start = since or utcnow() - timedelta(days=GAP_DAYS)
    rows = await repository.gap_totals(
        session, since=start, language=language, limit=GAP_REPORT_KEYS
    )
    return GapReport(since=start, items=gaps.cluster(rows))


# --- Questions no article answers -------------------------------------------------------------


async def add_out_of_scope(
    session: AsyncSession,
    data: OutOfScopeCreate,
    *,
    author: Agent | None,
    embedder: Embedder = DEFAULT_EMBEDDER,
) -> list[OutOfScopeRead]:
    """Mark questions as ones no article answers, on purpose: the intent head learns them as
    its "none of these" output (retrained after the commit, like an article's questions),
    and content gaps with their key leave the report. A wording whose key the language
    already has is not stored twice. Answers the stored questions, in the order given."""
    wanted: dict[str, str] = {}
    for question in data.questions:
        key = gap_key(question)
        if key:
            wanted.setdefault(key, question)
    existing = await repository.out_of_scope_by_key(session, data.language, list(wanted))
    new = [(key, question) for key, question in wanted.items() if key not in existing]
    if new:
        if embedder.inline:
            vectors = embedder.embed([question for _, question in new], kind="query")
            blobs = [to_blob(vector) for vector in vectors]
        else:
            blobs = [PENDING] * len(new)
            await jobs.enqueue(session, EMBED_JOB, {})
        await repository.add_out_of_scope(
            session,
            data.language,
            [
                {"text": question, "key": key, "vector": blob}
                for (key, question), blob in zip(new, blobs, strict=True)
            ],
            author_id=author.id if author else None,
            now=utcnow(),
        )
        await _changed(session)
    stored = await repository.out_of_scope_by_key(session, data.language, list(wanted))
    return [_out_of_scope_read(stored[key]) for key in wanted if key in stored]


async def list_out_of_scope(
    session: AsyncSession, *, language: str | None = None, after: int | None = None,
    limit: int = 50,
) -> list[OutOfScopeRead]:  # fmt: skip
    rows = await repository.list_out_of_scope(session, language=language, after=after, limit=limit)
    return [_out_of_scope_read(row) for row in rows]


async def delete_out_of_scope(session: AsyncSession, question_id: int) -> None:
    """Forget a question no article answers (404 when there is none)."""
    question = await repository.get_out_of_scope(session, question_id)
    if question is None:
        raise NotFound("out-of-scope question not found")
    await repository.delete_out_of_scope(session, question)
    await _changed(session)


def _out_of_scope_read(row: OutOfScopeQuestion) -> OutOfScopeRead:
    return OutOfScopeRead(
        id=row.id, language=row.language, text=row.text, created_at=row.created_at
    )
