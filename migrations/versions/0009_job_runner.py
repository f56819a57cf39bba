"""job runner: where a job resumes and its lease, so a fresh worker carries on; refused members

Revision ID: 0009_job_runner
Revises: 0012_ward_deprivation
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_job_runner"
down_revision = "0012_ward_deprivation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("resume_after", sa.String(36), nullable=False, server_default=""))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_jobs_status_created_at", "jobs", ["status", "created_at"])
    op.create_table(
        "job_refusals",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("problem", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_job_refusals_job_id_jobs"),
        sa.PrimaryKeyConstraint("job_id", "resident_id", name="pk_job_refusals"),
    )


def downgrade() -> None:
    op.drop_table("job_refusals")
    op.drop_index("ix_jobs_status_created_at", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("resume_after")
