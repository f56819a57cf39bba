"""Offline shortfalls: what a kiosk's offline redemptions could not take from the wallet at sync."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.db.tables import offline_shortfalls


class OfflineShortfallsRepository:
    """Records and lists offline shortfalls on one connection (newest first)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, **row: Any) -> None:
        """Record one shortfall (columns as in tables.offline_shortfalls)."""
        self.connection.execute(insert(offline_shortfalls).values(**row))

    def page(self, *, limit: int, after: str = "") -> list[dict[str, Any]]:
        """Shortfalls newest first; `after` is the id of the last one on the previous page."""
        table = offline_shortfalls
        query = select(table).order_by(table.c.recorded_at.desc(), table.c.id.desc()).limit(limit)
        if after:
            cursor = self.connection.execute(select(table.c.recorded_at).where(table.c.id == after)).first()
            if cursor is None:
                return []
            query = query.where(
                (table.c.recorded_at < cursor.recorded_at)
                | ((table.c.recorded_at == cursor.recorded_at) & (table.c.id < after))
            )
        return [dict(row._mapping) for row in self.connection.execute(query)]
