"""Knowledge-base tables: articles, their translations, example questions, versions and
feedback, and the stamp that tells every process its in-memory search index is stale."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.db import Base, UTCDateTime, utcnow

STATUSES = ("draft", "published", "internal")
MAX_LANGUAGE = 35  # BCP-47 tags are short; 35 covers every registered form


class Article(Base):
    """One answer, written in its source language and translated into others."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_language: Mapped[str] = mapped_column(String(MAX_LANGUAGE))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Bumped whenever the source's title or body changes: a translation written against an
    # older revision is stale.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Translation(Base):
    """An article in one language (the source language included)."""

    __tablename__ = "kb_translations"
    __table_args__ = (UniqueConstraint("article_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(MAX_LANGUAGE))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # Markdown as written
    html: Mapped[str] = mapped_column(Text)  # rendered and sanitised
    # Search keys of the title and of body + questions, light-stemmed (kit.text.stemmed_tokens):
    # the full-text indexes of both databases read these, so SQLite and PostgreSQL match the
    # same words.
    search_title: Mapped[str] = mapped_column(Text)
    search_body: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, the embedder's dimension
    based_on_revision: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Question(Base):
    """An example question an article answers: its intent training data, per language."""

    __tablename__ = "kb_questions"
    __table_args__ = (Index("ix_kb_questions_article", "article_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(MAX_LANGUAGE))
    text: Mapped[str] = mapped_column(String(500))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class Version(Base):
    """A title and body as they were saved: the history of one translation."""

    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("article_id", "language", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(MAX_LANGUAGE))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Feedback(Base):
    """Whether an article helped, per language, with an optional comment."""

    __tablename__ = "kb_feedback"
    __table_args__ = (Index("ix_kb_feedback_article", "article_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(MAX_LANGUAGE))
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndexStamp(Base):
    """One row: a random stamp renewed by every write to the knowledge base, in the same
    transaction. A process compares it with the stamp of its in-memory index (one primary-key
    read per search) and reloads when they differ; random, so an emptied and refilled
    database can never look current."""

    __tablename__ = "kb_index_stamp"

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))


class Gap(Base):
    """Searches and questions the knowledge base had no good answer for: one row per
    normalised text, language, source and day, with a counter, so repeats cost an update and
    the public endpoints cannot grow the table faster than their daily cap."""

    __tablename__ = "kb_gaps"
    __table_args__ = (
        UniqueConstraint("day", "source", "language", "key", name="uq_kb_gaps_day_key"),
        Index("ix_kb_gaps_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10))  # ISO date (UTC)
    source: Mapped[str] = mapped_column(String(20))  # search | portal | autocomplete | answer | bot
    language: Mapped[str] = mapped_column(String(MAX_LANGUAGE))  # "" when unknown
    key: Mapped[str] = mapped_column(String(200))  # kit.text search tokens, space separated
    example: Mapped[str] = mapped_column(String(300))  # the text as typed (latest)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntentModel(Base):
    """The trained intent head of the knowledge base for one embedder (knowledge.intents):
    weights over the published articles' example questions and the learned out-of-scope
    threshold, with the fingerprint of what it was trained on (a head whose fingerprint no
    longer matches the questions is not used until the train job has run again)."""

    __tablename__ = "kb_intent_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    embedder: Mapped[str] = mapped_column(String(64), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)  # numpy .npz (intents.IntentHead)
    articles: Mapped[int] = mapped_column(Integer)
    examples: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutOfScopeQuestion(Base):
    """A question no article answers, on purpose ("we do not answer this"): an admin marks
    it (from the content gaps, or in the knowledge base's settings) and the intent head
    learns it as its "none of these" output, so the bot refuses such questions rather than
    answering them with the nearest article. Not searched, suggested or shown to customers."""

    __tablename__ = "kb_out_of_scope"
    __table_args__ = (UniqueConstraint("language", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(MAX_LANGUAGE))
    text: Mapped[str] = mapped_column(String(500))
    # Its search key as content gaps store it (knowledge.service.gap_key): a gap with this key
    # is left out of the report; one question is stored once per language.
    key: Mapped[str] = mapped_column(String(200))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
