"""knowledge: each translation's full-text document stored on PostgreSQL (`search_document`,
a generated column, with the GIN index on it), so ranking and rechecking a match read it
instead of parsing the title and body again for every matching row

Revision ID: 0056_kb_search_document
Revises: 0055_jobs_kind_claim
Create Date: 2026-12-07 15:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0056_kb_search_document"
down_revision: str | None = "0055_jobs_kind_claim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The expression of 0021's index (and of knowledge/repository.py before this revision).
PG_DOCUMENT = (
    "(setweight(to_tsvector('simple', search_title), 'A') || to_tsvector('simple', search_body))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite's FTS5 table stores its own
        op.execute(
            "ALTER TABLE kb_translations ADD COLUMN search_document tsvector"
            f" GENERATED ALWAYS AS {PG_DOCUMENT} STORED"
        )
        op.execute("DROP INDEX ix_kb_translations_fts")
        op.execute(
            "CREATE INDEX ix_kb_translations_fts ON kb_translations USING gin (search_document)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_kb_translations_fts")
        op.execute("ALTER TABLE kb_translations DROP COLUMN search_document")
        op.execute(
            f"CREATE INDEX ix_kb_translations_fts ON kb_translations USING gin ({PG_DOCUMENT})"
        )
