"""Fast reads for `audit verify`: canonical bytes built straight from rows, hashed in parallel workers."""

from __future__ import annotations

from sqlalchemy import Connection


class VerifyRepository:
    """Streams what verification needs on one connection (and on worker connections on PostgreSQL)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
