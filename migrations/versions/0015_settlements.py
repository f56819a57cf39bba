"""settlement batches, their lines and payouts

Revision ID: 0015_settlements
Revises: 0014_stripe_topups
"""

revision = "0015_settlements"
down_revision = "0014_stripe_topups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables come with the work that needs them."""


def downgrade() -> None:
    """Nothing yet."""
