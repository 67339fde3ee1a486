"""knowledge base: articles, translations, example questions, versions, feedback, and the
full-text indexes (SQLite FTS5 table / PostgreSQL GIN expression index) over search keys

Revision ID: 0021_knowledge
Revises: 0018_routing
Create Date: 2026-12-05 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_knowledge"
down_revision: str | None = "0018_routing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one full-text expression on PostgreSQL: queries repeat it exactly so the index serves
# them (knowledge/repository.py PG_DOCUMENT).
PG_DOCUMENT = (
    "(setweight(to_tsvector('simple', search_title), 'A') || to_tsvector('simple', search_body))"
)


def _article_fk() -> sa.ForeignKey:
    return sa.ForeignKey("kb_articles.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_language", sa.String(35), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_kb_articles_status", "kb_articles", ["status"])
    op.create_index("ix_kb_articles_category", "kb_articles", ["category"])
    op.create_table(
        "kb_translations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.Integer(), _article_fk(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("search_title", sa.Text(), nullable=False),
        sa.Column("search_body", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("based_on_revision", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("article_id", "language", name="uq_kb_translations_article_id"),
    )
    op.create_table(
        "kb_questions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.Integer(), _article_fk(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_kb_questions_article", "kb_questions", ["article_id", "language"])
    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.Integer(), _article_fk(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("article_id", "language", "number", name="uq_kb_versions_article_id"),
    )
    op.create_table(
        "kb_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("article_id", sa.Integer(), _article_fk(), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_kb_feedback_article", "kb_feedback", ["article_id", "language"])
    op.create_table(
        "kb_index_stamp",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("stamp", sa.String(32), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX ix_kb_translations_fts ON kb_translations USING gin ({PG_DOCUMENT})"
        )
    else:
        # rowid = kb_translations.id; kept in step by knowledge/repository.py.
        # Marks are word characters (Devanagari vowel signs); keys are folded already.
        op.execute(
            "CREATE VIRTUAL TABLE kb_fts USING fts5(title, body, tokenize = "
            "\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")"
        )
        # `rank` is bm25 with a word in the title counting three times one in the body.
        op.execute("INSERT INTO kb_fts(kb_fts, rank) VALUES ('rank', 'bm25(3.0, 1.0)')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS kb_fts")
    for table in (
        "kb_index_stamp", "kb_feedback", "kb_versions", "kb_questions", "kb_translations",
        "kb_articles",
    ):  # fmt: skip
        op.drop_table(table)
