"""Alembic environment: plain Alembic on SQLAlchemy 2.0; batch mode for SQLite's limited ALTER."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ledger.db.engine import make_engine
from ledger.db.tables import metadata

config = context.config


def run(connection: Connection) -> None:
    """Run migrations on an open connection."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


existing = config.attributes.get("connection")
if existing is not None:
    run(existing)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        run(connection)
    engine.dispose()
