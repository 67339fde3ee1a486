"""blob references: indexes that let the blob collector ask, by key, whether any row names a blob

Revision ID: 0007_blob_references
Revises: 0006_email_bounces
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_blob_references"
down_revision: str | None = "0006_email_bounces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Blob keys the e-mail channel keeps inside messages.meta. Partial: only messages that name
# one have an entry. The query side (channels/email/repository.py) must spell each expression
# exactly like this, or SQLite will not use the index.
META_INDEXES = {
    "ix_messages_email_raw": ("json_extract(meta, '$.email.raw')", "(meta #>> '{email,raw}')"),
    "ix_messages_bounce_raw": ("json_extract(meta, '$.bounce.raw')", "(meta #>> '{bounce,raw}')"),
}


def upgrade() -> None:
    op.create_index(op.f("ix_attachments_blob_key"), "attachments", ["blob_key"], unique=False)
    op.create_index(
        op.f("ix_email_quarantine_blob_key"), "email_quarantine", ["blob_key"], unique=False
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, (sqlite, pg) in META_INDEXES.items():
        expression = pg if postgresql else sqlite
        op.execute(
            f"CREATE INDEX {name} ON messages ({expression}) WHERE {expression} IS NOT NULL"
        )


def downgrade() -> None:
    for name in META_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.drop_index(op.f("ix_email_quarantine_blob_key"), table_name="email_quarantine")
    op.drop_index(op.f("ix_attachments_blob_key"), table_name="attachments")
