"""Alembic environment: one migration history for SQLite and PostgreSQL (batch mode on SQLite)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

import frontdesk.models
from frontdesk.migrate import sync_url

config = context.config
target_metadata = frontdesk.models.Base.metadata
# Any constant works, as long as every process uses the same one.
MIGRATION_LOCK = 7_242_000


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Several processes may run `frontdesk migrate` at once: one migrates, the rest wait.
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
                connection.commit()
    engine.dispose()


run_migrations_online()
