"""Stripe top-ups: checkout sessions and the webhook events already applied

Revision ID: 0014_stripe_topups
Revises: 0013_job_members
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_stripe_topups"
down_revision = "0013_job_members"
branch_labels = None
depends_on = None

EVENTS = "stripe_events"


def upgrade() -> None:
    """The top-ups and the Stripe events already accepted (facts: never edited or removed)."""
    op.create_table(
        "topups",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("card_number", sa.String(32), nullable=False),
        sa.Column("scheme_id", sa.String(36), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("checkout_session_id", sa.String(255), nullable=False),
        sa.Column("checkout_url", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transaction_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], name="fk_topups_resident_id_residents"),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name="fk_topups_scheme_id_schemes"),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name="fk_topups_transaction_id_transactions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_topups"),
        sa.UniqueConstraint("checkout_session_id", name="uq_topups_checkout_session_id"),
    )
    op.create_index("ix_topups_resident_scheme_created", "topups", ["resident_id", "scheme_id", "created_at"])
    op.create_table(
        EVENTS,
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stripe_events"),
    )
    _refuse_changes(EVENTS)


def _refuse_changes(table: str) -> None:
    """0001's immutability triggers on one more fact table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION clubcard_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clubcard_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'clubcard: {operation} on {table} refused: "
            "accepted Stripe events are facts'); END"
        )


def downgrade() -> None:
    """Drop both tables (the triggers go with theirs)."""
    op.drop_table(EVENTS)
    op.drop_index("ix_topups_resident_scheme_created", table_name="topups")
    op.drop_table("topups")
