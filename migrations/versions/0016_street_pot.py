"""the street pot: proposals, voting rounds and household votes

Revision ID: 0016_street_pot
Revises: 0015_settlements
"""

revision = "0016_street_pot"
down_revision = "0015_settlements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables come with the work that needs them."""


def downgrade() -> None:
    """Nothing yet."""
