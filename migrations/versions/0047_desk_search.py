"""customer search key: customers keep customer_search_key(name, addresses, attribute values)
under a substring index (PostgreSQL: trigram GIN, where pg_trgm can be created; SQLite: an
FTS5 table with the trigram tokenizer, kept by triggers), so the directory's search is no
longer a scan of every customer, identity and attribute

Revision ID: 0047_desk_search
Revises: 0046_workspace
Create Date: 2026-12-06 06:20:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from frontdesk.customers.models import customer_search_key

revision: str = "0047_desk_search"
down_revision: str | None = "0046_workspace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("search_key", sa.Text(), nullable=True))
    _backfill_keys()
    if op.get_bind().dialect.name == "postgresql":
        if _trigrams_available():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            op.execute(
                "CREATE INDEX ix_customers_search_trgm ON customers"
                " USING gin (search_key gin_trgm_ops)"
            )
        return
    # rowid = customers.id; an external-content table: the text lives in customers.search_key.
    op.execute(
        "CREATE VIRTUAL TABLE customers_fts USING fts5(search_key, content='customers',"
        " content_rowid='id', tokenize='trigram')"
    )
    op.execute("INSERT INTO customers_fts(customers_fts) VALUES ('rebuild')")
    op.execute(
        "CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN"
        " INSERT INTO customers_fts(rowid, search_key) VALUES (new.id, new.search_key); END"
    )
    op.execute(
        "CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN"
        " INSERT INTO customers_fts(customers_fts, rowid, search_key)"
        " VALUES ('delete', old.id, old.search_key); END"
    )
    op.execute(
        "CREATE TRIGGER customers_fts_update AFTER UPDATE OF search_key ON customers BEGIN"
        " INSERT INTO customers_fts(customers_fts, rowid, search_key)"
        " VALUES ('delete', old.id, old.search_key);"
        " INSERT INTO customers_fts(rowid, search_key) VALUES (new.id, new.search_key); END"
    )


def _backfill_keys() -> None:
    bind = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer),
        sa.column("name"),
        sa.column("attributes", sa.JSON),
        sa.column("search_key"),
    )
    identities = sa.table(
        "identities", sa.column("id", sa.Integer), sa.column("customer_id"), sa.column("address")
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(customers.c.id, customers.c.name, customers.c.attributes)
            .where(customers.c.id > after)
            .order_by(customers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        addresses: dict[int, list[str]] = {}
        for customer_id, address in bind.execute(
            sa.select(identities.c.customer_id, identities.c.address)
            .where(identities.c.customer_id.in_([row[0] for row in rows]))
            .order_by(identities.c.id)
        ):
            addresses.setdefault(customer_id, []).append(address)
        bind.execute(
            sa.update(customers)
            .where(customers.c.id == sa.bindparam("row_id"))
            .values(search_key=sa.bindparam("key")),
            [_key(row_id, name, attrs, addresses) for row_id, name, attrs in rows],
        )
        after = rows[-1][0]


def _key(row_id: int, name: str | None, attrs: Any, addresses: dict[int, list[str]]) -> dict:
    values = attrs if isinstance(attrs, dict) else {}
    return {"row_id": row_id, "key": customer_search_key(name, addresses.get(row_id, []), values)}


def _trigrams_available() -> bool:
    """As in 0036: pg_trgm is trusted (PostgreSQL 13+); without it the search scans."""
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
        op.execute("DROP INDEX IF EXISTS ix_customers_search_trgm")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS customers_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS customers_fts")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("search_key")
