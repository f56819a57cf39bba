"""offline shortfall resolutions: a member of staff's note closing a shortfall, once, never edited

Revision ID: 0008_shortfall_resolutions
Revises: 0007_allowance_payments
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_shortfall_resolutions"
down_revision = "0007_allowance_payments"
branch_labels = None
depends_on = None

TABLE = "shortfall_resolutions"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("shortfall_id", sa.String(36), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("resolved_by", sa.String(120), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shortfall_id"],
            ["offline_shortfalls.id"],
            name="fk_shortfall_resolutions_shortfall_id_offline_shortfalls",
        ),
        sa.PrimaryKeyConstraint("shortfall_id", name="pk_shortfall_resolutions"),
    )
    # Facts: a resolution once recorded is never edited or removed (0001's trigger function).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION clubcard_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clubcard_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, 'clubcard: {operation} on {TABLE} refused: "
            "shortfall resolutions are facts'); END"
        )


def downgrade() -> None:
    op.drop_table(TABLE)  # its triggers go with it
