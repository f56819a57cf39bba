"""the write path: indexes and counters for the one spend path and bulk issuance

Revision ID: 0017_write_path
Revises: 0016_street_pot
"""

from alembic import op

revision = "0017_write_path"
down_revision = "0016_street_pot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """A bulk job pages a scheme's members in resident order: one index range per page, not a sort."""
    op.create_index("ix_memberships_scheme_resident", "memberships", ["scheme_id", "resident_id"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("ix_memberships_scheme_resident", table_name="memberships")
