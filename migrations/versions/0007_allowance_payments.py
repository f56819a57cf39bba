"""allowance payments: a recurring allowance pays each member once per council period; holds by wallet

Revision ID: 0007_allowance_payments
Revises: 0006_checkpoint_leaves
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_allowance_payments"
down_revision = "0006_checkpoint_leaves"
branch_labels = None
depends_on = None

TABLE = "allowance_payments"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("scheme_id", sa.String(36), nullable=False),
        sa.Column("period_key", sa.String(24), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name="fk_allowance_payments_scheme_id_schemes"
        ),
        sa.PrimaryKeyConstraint("scheme_id", "period_key", "resident_id", name="pk_allowance_payments"),
    )
    op.create_index("ix_holds_owner_scheme_status", "holds", ["owner_id", "scheme_id", "status"])
    # Facts: a payment once recorded is never edited or removed (0001's trigger function).
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
            "allowance payments are facts'); END"
        )


def downgrade() -> None:
    op.drop_index("ix_holds_owner_scheme_status", table_name="holds")
    op.drop_table(TABLE)  # its triggers go with it
