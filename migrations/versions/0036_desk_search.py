"""desk search and activity: messages keep a search key (kit.text.search_key) under a full-text
index (SQLite FTS5 table kept by triggers / PostgreSQL GIN expression index), conversations a
stored sort key with an index behind the list's order, trigram indexes for substring search of
names, addresses, subjects and tags (PostgreSQL, where pg_trgm can be created), and the event
log indexed by conversation and by customer for the activity log

Revision ID: 0036_desk_search
Revises: 0021_knowledge
Create Date: 2026-12-05 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from frontdesk.db import UTCDateTime
from frontdesk.kit.text import search_tokens

revision: str = "0036_desk_search"
down_revision: str | None = "0032_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one full-text expression on PostgreSQL: queries repeat it exactly so the index serves
# them (desk/search.py PG_MESSAGE_DOCUMENT).
PG_MESSAGE_DOCUMENT = "to_tsvector('simple', search_key)"
BATCH = 5000
# (index name, table, lower(column)) searched by substring on PostgreSQL.
TRIGRAM = (
    ("ix_customers_name_trgm", "customers", "lower(name)"),
    ("ix_identities_address_trgm", "identities", "lower(address)"),
    ("ix_conversations_subject_trgm", "conversations", "lower(subject)"),
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("search_key", sa.Text(), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("sort_at", UTCDateTime(timezone=True), nullable=True))
    # Left nullable in the schema (SQLite would rebuild the table to change that); every write
    # sets it (conversations/models.py).
    op.execute("UPDATE conversations SET sort_at = coalesce(last_message_at, created_at)")
    # Uses index: the list's order (newest activity first) within a status.
    op.create_index("ix_conversations_status_sort", "conversations", ["status", "sort_at", "id"])
    # Uses index: the four view counts, counted from the index alone (index-only scan).
    op.create_index(
        "ix_conversations_status_views",
        "conversations",
        ["status", "inbox_id", "assignee_id", "team_id"],
    )
    op.create_index("ix_conversation_tags_tag", "conversation_tags", ["tag_id", "conversation_id"])
    op.create_index("ix_events_conversation", "events", ["conversation_id", "sequence"])
    op.create_index("ix_events_customer", "events", ["customer_id", "sequence"])
    _backfill_keys()
    if postgres:
        op.execute(f"CREATE INDEX ix_messages_search ON messages USING gin ({PG_MESSAGE_DOCUMENT})")
        if _trigrams_available():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for name, table, expression in TRIGRAM:
                op.execute(f"CREATE INDEX {name} ON {table} USING gin ({expression} gin_trgm_ops)")
        return
    # rowid = messages.id; an external-content table: the text lives in messages.search_key.
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(search_key, content='messages',"
        " content_rowid='id',"
        " tokenize = \"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\")"
    )
    op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    op.execute(
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
        " INSERT INTO messages_fts(rowid, search_key) VALUES (new.id, new.search_key); END"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, search_key)"
        " VALUES ('delete', old.id, old.search_key); END"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF search_key ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, search_key)"
        " VALUES ('delete', old.id, old.search_key);"
        " INSERT INTO messages_fts(rowid, search_key) VALUES (new.id, new.search_key); END"
    )


def _backfill_keys() -> None:
    bind = op.get_bind()
    messages = sa.table(
        "messages", sa.column("id", sa.Integer), sa.column("text"), sa.column("search_key")
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(messages.c.id, messages.c.text)
            .where(messages.c.id > after)
            .order_by(messages.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(messages)
            .where(messages.c.id == sa.bindparam("row_id"))
            .values(search_key=sa.bindparam("key")),
            [
                {"row_id": row_id, "key": " ".join(search_tokens(text or ""))}
                for row_id, text in rows
            ],
        )
        after = rows[-1][0]


def _trigrams_available() -> bool:
    """pg_trgm is in contrib and trusted (PostgreSQL 13+): the database owner may create it.
    Without it the substring searches still work, by scanning."""
    return bool(
        op.get_bind().scalar(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm')"
                " AND has_database_privilege(current_database(), 'CREATE')"
            )
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _, _ in TRIGRAM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP INDEX IF EXISTS ix_messages_search")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS messages_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
    op.drop_index("ix_events_customer", "events")
    op.drop_index("ix_events_conversation", "events")
    op.drop_index("ix_conversation_tags_tag", "conversation_tags")
    op.drop_index("ix_conversations_status_views", "conversations")
    op.drop_index("ix_conversations_status_sort", "conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("sort_at")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("search_key")
