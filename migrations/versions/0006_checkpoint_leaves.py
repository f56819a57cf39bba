"""checkpoint leaves: the content hashes each checkpoint sealed, so verify can name what was altered

Revision ID: 0006_checkpoint_leaves
Revises: 0005_staff_log_origin_and_name_lookup
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_checkpoint_leaves"
down_revision = "0005_staff_log_origin"
branch_labels = None
depends_on = None

TABLE = "checkpoint_leaves"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("content_hashes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["checkpoints.tree_size"],
            name="fk_checkpoint_leaves_tree_size_checkpoints",
        ),
        sa.PrimaryKeyConstraint("tree_size", name="pk_checkpoint_leaves"),
    )
    # Facts, like the checkpoints they belong to: refused UPDATE and DELETE (0001's trigger function).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION clubcard_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clubcard_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, 'clubcard: {operation} on {TABLE} refused: "
            "ledger rows are immutable; post a reversal instead'); END"
        )


def downgrade() -> None:
    op.drop_table(TABLE)  # its triggers go with it
