"""distrusted card keys: leaked card keys whose tokens are refused; cards indexed by signing key

Revision ID: 0004_distrusted_card_keys
Revises: 0003_offline_shortfalls
"""

import sqlalchemy as sa
from alembic import op


revision = "0004_distrusted_card_keys"
down_revision = "0003_offline_shortfalls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "distrusted_card_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("distrusted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distrusted_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_distrusted_card_keys"),
    )
    # Distrusting a key lists the cards it signed, and the revocation list joins on it.
    op.create_index("ix_cards_key_id", "cards", ["key_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cards_key_id", table_name="cards")
    op.drop_table("distrusted_card_keys")
