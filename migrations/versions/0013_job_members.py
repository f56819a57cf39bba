"""job members: the members a CSV file listed for a bulk issuance, kept from its dry run for its job

Revision ID: 0013_job_members
Revises: 0009_job_runner
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_job_members"
down_revision = "0009_job_runner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_members",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=True),
        sa.Column("problem", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "reference", name="pk_job_members"),
    )
    op.create_index("ix_job_members_job_resident", "job_members", ["job_id", "resident_id"])


def downgrade() -> None:
    op.drop_index("ix_job_members_job_resident", table_name="job_members")
    op.drop_table("job_members")
