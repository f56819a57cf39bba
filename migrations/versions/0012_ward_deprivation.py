"""ward deprivation: the council's uploaded list of wards and their deprivation decile, for the insight pages

Revision ID: 0012_ward_deprivation
Revises: 0011_resident_access
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_ward_deprivation"
down_revision = "0011_resident_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ward_deprivation",
        sa.Column("ward", sa.String(64), nullable=False),
        sa.Column("decile", sa.SmallInteger(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("ward", name=op.f("pk_ward_deprivation")),
    )


def downgrade() -> None:
    op.drop_table("ward_deprivation")
