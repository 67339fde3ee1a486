"""knowledge: questions no article answers (kb_out_of_scope), learned by the intent head as
its "none of these" output and left out of the content gaps report

Revision ID: 0054_intent_oos_out_of_scope
Revises: 0053_presence_rules
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0054_intent_oos_out_of_scope"
down_revision: str | None = "0053_presence_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_out_of_scope",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("language", "key", name="uq_kb_out_of_scope_language_key"),
    )


def downgrade() -> None:
    op.drop_table("kb_out_of_scope")
