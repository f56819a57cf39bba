"""staff log records from where (key id, remote address); residents found by exact name and birth date

Revision ID: 0005_staff_log_origin
Revises: 0004_distrusted_card_keys
"""

import hashlib
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0005_staff_log_origin"  # alembic_version holds at most 32 characters
down_revision = "0004_distrusted_card_keys"
branch_labels = None
depends_on = None

BACKFILL_BATCH_ROWS = 1_000


def _name_lookup_hash(name: str) -> str:
    # A frozen copy of ledger.db.people_repository.name_lookup_hash as it was when this ran.
    normalised = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _backfill_name_lookup_hashes() -> None:
    connection = op.get_bind()
    details = sa.table(
        "personal_details", sa.column("resident_id", sa.String), sa.column("name", sa.String),
        sa.column("name_lookup_hash", sa.String),
    )
    rows = connection.execute(sa.select(details.c.resident_id, details.c.name)).all()
    statement = (
        sa.update(details)
        .where(details.c.resident_id == sa.bindparam("id"))
        .values(name_lookup_hash=sa.bindparam("hash"))
    )
    for start in range(0, len(rows), BACKFILL_BATCH_ROWS):
        batch = rows[start : start + BACKFILL_BATCH_ROWS]
        connection.execute(statement, [{"id": row.resident_id, "hash": _name_lookup_hash(row.name)} for row in batch])


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild), so the immutability triggers on staff_actions stay in place.
    op.add_column("staff_actions", sa.Column("key_id", sa.String(36), nullable=True))
    op.add_column("staff_actions", sa.Column("remote_address", sa.String(64), nullable=True))
    op.create_index("ix_staff_actions_actor_at", "staff_actions", ["actor", "at"], unique=False)
    op.create_index("ix_staff_actions_target_at", "staff_actions", ["target", "at"], unique=False)

    op.add_column("personal_details", sa.Column("name_lookup_hash", sa.String(64), nullable=True))
    _backfill_name_lookup_hashes()
    with op.batch_alter_table("personal_details") as batch_op:
        batch_op.alter_column("name_lookup_hash", existing_type=sa.String(64), nullable=False)
    op.create_index(
        "ix_personal_details_name_lookup",
        "personal_details",
        ["name_lookup_hash", "date_of_birth"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_personal_details_name_lookup", table_name="personal_details")
    with op.batch_alter_table("personal_details") as batch_op:
        batch_op.drop_column("name_lookup_hash")
    op.drop_index("ix_staff_actions_target_at", table_name="staff_actions")
    op.drop_index("ix_staff_actions_actor_at", table_name="staff_actions")
    # SQLite rebuilds the table to drop a column; the rebuilt table needs its triggers back.
    with op.batch_alter_table("staff_actions") as batch_op:
        batch_op.drop_column("remote_address")
        batch_op.drop_column("key_id")
    _restore_staff_action_triggers()


def _restore_staff_action_triggers() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS staff_actions_no_{operation.lower()}")
        op.execute(
            f"CREATE TRIGGER staff_actions_no_{operation.lower()} BEFORE {operation} ON staff_actions "
            f"BEGIN SELECT RAISE(ABORT, 'clubcard: {operation} on staff_actions refused: "
            "ledger rows are immutable; post a reversal instead'); END"
        )
