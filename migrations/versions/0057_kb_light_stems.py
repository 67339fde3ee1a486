"""knowledge: the full text indexes Arabic light stems (knowledge search stems the query's words
the same way): every stored translation's search keys are stemmed again, and SQLite's FTS5
table is filled from them anew (PostgreSQL's generated document follows its columns)

Revision ID: 0057_kb_light_stems
Revises: 0056_kb_search_document
Create Date: 2026-12-07 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0057_kb_light_stems"
down_revision: str | None = "0056_kb_search_document"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frontdesk.kit.text.light_stem as of this revision (a migration applies what it froze).
_AND = "و"
_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")  # noqa: RUF001


def _stem(word: str) -> str:
    if len(word) > 3 and word.startswith(_AND):
        word = word[1:]
    for article in _ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 2:
            word = word[len(article) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
    return word


def _stemmed(keys: str) -> str:
    return " ".join(_stem(word) for word in keys.split())


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, search_title, search_body FROM kb_translations"))
    changed = [
        {"id": row[0], "title": _stemmed(row[1]), "body": _stemmed(row[2])}
        for row in rows
        if _stemmed(row[1]) != row[1] or _stemmed(row[2]) != row[2]
    ]
    if changed:
        bind.execute(
            sa.text(
                "UPDATE kb_translations SET search_title = :title, search_body = :body"
                " WHERE id = :id"
            ),
            changed,
        )
    if bind.dialect.name != "postgresql":
        op.execute("DELETE FROM kb_fts")
        op.execute(
            "INSERT INTO kb_fts(rowid, title, body)"
            " SELECT id, search_title, search_body FROM kb_translations"
        )


def downgrade() -> None:
    # The words' full forms are in the titles and bodies, not in the keys: the stems stay (an
    # earlier revision's search then matches unstemmed query words to them less often).
    pass
