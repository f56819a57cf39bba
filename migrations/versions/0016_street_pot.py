"""the street pot: proposals, voting rounds and household votes

Revision ID: 0016_street_pot
Revises: 0015_settlements
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_street_pot"
down_revision = "0015_settlements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Rounds per street and scheme, their proposals, and one vote per household per round."""
    op.create_table(
        "street_pot_rounds",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("street_id", sa.String(36), nullable=False),
        sa.Column("scheme_id", sa.String(36), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(120), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(120), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        sa.Column("winner_proposal_id", sa.String(36), nullable=True),
        sa.Column("payment_transaction_id", sa.String(36), nullable=True),
        sa.ForeignKeyConstraint(
            ["street_id"], ["residents.id"], name=op.f("fk_street_pot_rounds_street_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["schemes.id"], name=op.f("fk_street_pot_rounds_scheme_id_schemes")
        ),
        sa.ForeignKeyConstraint(
            ["payment_transaction_id"],
            ["transactions.id"],
            name=op.f("fk_street_pot_rounds_payment_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street_pot_rounds")),
    )
    op.create_index(
        "ix_street_pot_rounds_street_scheme",
        "street_pot_rounds",
        ["street_id", "scheme_id", "opened_at"],
        unique=False,
    )
    op.create_table(
        "street_pot_proposals",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("round_id", sa.String(36), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("outlet_id", sa.String(36), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["street_pot_rounds.id"],
            name=op.f("fk_street_pot_proposals_round_id_street_pot_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"], ["outlets.id"], name=op.f("fk_street_pot_proposals_outlet_id_outlets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street_pot_proposals")),
    )
    op.create_index(
        op.f("ix_street_pot_proposals_round_id"), "street_pot_proposals", ["round_id"], unique=False
    )
    op.create_table(
        "street_pot_votes",
        sa.Column("round_id", sa.String(36), nullable=False),
        sa.Column("household_id", sa.String(36), nullable=False),
        sa.Column("proposal_id", sa.String(36), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["street_pot_rounds.id"],
            name=op.f("fk_street_pot_votes_round_id_street_pot_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["residents.id"], name=op.f("fk_street_pot_votes_household_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["street_pot_proposals.id"],
            name=op.f("fk_street_pot_votes_proposal_id_street_pot_proposals"),
        ),
        sa.PrimaryKeyConstraint("round_id", "household_id", name=op.f("pk_street_pot_votes")),
    )


def downgrade() -> None:
    """Drop the street pot's tables (the payments stay in the ledger)."""
    op.drop_table("street_pot_votes")
    op.drop_index(op.f("ix_street_pot_proposals_round_id"), table_name="street_pot_proposals")
    op.drop_table("street_pot_proposals")
    op.drop_index("ix_street_pot_rounds_street_scheme", table_name="street_pot_rounds")
    op.drop_table("street_pot_rounds")
