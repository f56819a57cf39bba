"""the write path: indexes and counters for the one spend path and bulk issuance

Revision ID: 0017_write_path
Revises: 0016_street_pot
"""

revision = "0017_write_path"
down_revision = "0016_street_pot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables come with the work that needs them."""


def downgrade() -> None:
    """Nothing yet."""
