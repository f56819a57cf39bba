"""settlement batches, their lines and payouts

Revision ID: 0015_settlements
Revises: 0014_stripe_topups
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_settlements"
down_revision = "0014_stripe_topups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Where outlets are paid, settlement batches and their lines."""
    op.create_table(
        "outlet_payees",
        sa.Column("outlet_id", sa.String(36), nullable=False),
        sa.Column("connected_account_id", sa.String(64), nullable=True),
        sa.Column("sort_code", sa.String(6), nullable=True),
        sa.Column("account_number", sa.String(8), nullable=True),
        sa.Column("account_name", sa.String(18), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlets.id"], name="fk_outlet_payees_outlet_id_outlets"),
        sa.PrimaryKeyConstraint("outlet_id", name="pk_outlet_payees"),
    )
    op.create_table(
        "settlement_batches",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(120), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.String(120), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_settlement_batches"),
        sa.UniqueConstraint("sequence", name="uq_settlement_batches_sequence"),
    )
    op.create_table(
        "settlement_lines",
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("outlet_id", sa.String(36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("destination", sa.String(64), nullable=True),
        sa.Column("transfer_id", sa.String(64), nullable=True),
        sa.Column("transfer_attempt", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["settlement_batches.id"], name="fk_settlement_lines_batch_id_settlement_batches"
        ),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlets.id"], name="fk_settlement_lines_outlet_id_outlets"),
        sa.PrimaryKeyConstraint("batch_id", "outlet_id", name="pk_settlement_lines"),
        sa.UniqueConstraint("transfer_id", name="uq_settlement_lines_transfer_id"),
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("settlement_lines")
    op.drop_table("settlement_batches")
    op.drop_table("outlet_payees")
