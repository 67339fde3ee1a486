"""cti: agents' phone extensions, the AMI connection lease of each CTI inbox

Revision ID: 0043_cti
Revises: 0041_metrics
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import frontdesk.db

revision: str = "0043_cti"
down_revision: str | None = "0041_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("extension", sa.String(20), nullable=True))
        batch.create_unique_constraint("uq_agents_extension", ["extension"])
    op.create_table(
        "cti_ami_leases",
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", frontdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inboxes.id"], name="fk_cti_ami_leases_inbox_id_inboxes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("inbox_id", name="pk_cti_ami_leases"),
    )


def downgrade() -> None:
    op.drop_table("cti_ami_leases")
    with op.batch_alter_table("agents") as batch:
        batch.drop_constraint("uq_agents_extension", type_="unique")
        batch.drop_column("extension")
