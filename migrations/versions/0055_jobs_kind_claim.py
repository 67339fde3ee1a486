"""jobs: an index for claiming due jobs of given kinds in order (kind, state, run_at), so a
claim reads the jobs it takes, not the whole backlog of other kinds

Revision ID: 0055_jobs_kind_claim
Revises: 0054_intent_oos_out_of_scope
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0055_jobs_kind_claim"
down_revision: str | None = "0054_intent_oos_out_of_scope"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_kind_claim", "jobs", ["kind", "state", "run_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_kind_claim", table_name="jobs")
