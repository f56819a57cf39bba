"""lighter index work for bulk issuance: no index on a transaction's idempotency key, none for lots that
never expire

Revision ID: 0018_bulk_write_indexes
Revises: 0017_write_path
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_bulk_write_indexes"
down_revision = "0017_write_path"
branch_labels = None
depends_on = None

NOT_NULL = "expires_at IS NOT NULL"


def upgrade() -> None:
    """Drop two index entries per member a bulk job pays, no query needing them.

    Nothing looks a transaction up by its idempotency key (the key's uniqueness and answer are in
    idempotency_keys), and expiry asks only for lots with expires_at <= a time, so a main lot (never
    expiring) needs no entry. Neither index backs a constraint.
    """
    op.drop_index("ix_transactions_idempotency_key", table_name="transactions")
    op.drop_index("ix_lots_expires_at", table_name="lots")
    op.create_index(
        "ix_lots_expires_at",
        "lots",
        ["expires_at"],
        postgresql_where=sa.text(NOT_NULL),
        sqlite_where=sa.text(NOT_NULL),
    )


def downgrade() -> None:
    """Put both indexes back as they were."""
    op.drop_index("ix_lots_expires_at", table_name="lots")
    op.create_index("ix_lots_expires_at", "lots", ["expires_at"])
    op.create_index("ix_transactions_idempotency_key", "transactions", ["idempotency_key"])
