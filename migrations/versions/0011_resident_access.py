"""resident access: a resident's PIN (argon2id) and their short server-side sessions on the /my pages

Revision ID: 0011_resident_access
Revises: 0010_spend_counters
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_resident_access"
down_revision = "0010_spend_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resident_pins",
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_resident_pins_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident_pins")),
    )
    op.create_table(
        "resident_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("card_number", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_resident_sessions_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_resident_sessions")),
    )
    op.create_index(
        op.f("ix_resident_sessions_resident_id"), "resident_sessions", ["resident_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_resident_sessions_resident_id"), table_name="resident_sessions")
    op.drop_table("resident_sessions")
    op.drop_table("resident_pins")
