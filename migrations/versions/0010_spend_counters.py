"""spend counters: what each wallet spent on each council day, kept current by the spend itself

Revision ID: 0010_spend_counters
Revises: 0008_shortfall_resolutions
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_spend_counters"
down_revision = "0008_shortfall_resolutions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spend_counters",
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("scheme_id", sa.String(36), nullable=False),
        sa.Column("day_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name="fk_spend_counters_scheme_id_schemes"),
        sa.PrimaryKeyConstraint("owner_id", "scheme_id", "day_start", name="pk_spend_counters"),
    )


def downgrade() -> None:
    op.drop_table("spend_counters")
