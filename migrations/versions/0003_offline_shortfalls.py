"""offline shortfalls: what a kiosk's offline redemptions could not take from the wallet

Revision ID: 0003_offline_shortfalls
Revises: 0002_staff_accounts
"""

import sqlalchemy as sa
from alembic import op


revision = "0003_offline_shortfalls"
down_revision = "0002_staff_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offline_shortfalls",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("outlet_id", sa.String(36), nullable=False),
        sa.Column("scheme_id", sa.String(36), nullable=False),
        sa.Column("card_number", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("covered_minor", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("redemption_transaction_id", sa.String(36), nullable=True),
        sa.Column("shortfall_transaction_id", sa.String(36), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shortfall_transaction_id"],
            ["transactions.id"],
            name="fk_offline_shortfalls_shortfall_transaction_id_transactions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_offline_shortfalls"),
    )
    op.create_index(
        "ix_offline_shortfalls_recorded_at", "offline_shortfalls", ["recorded_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_offline_shortfalls_recorded_at", table_name="offline_shortfalls")
    op.drop_table("offline_shortfalls")
