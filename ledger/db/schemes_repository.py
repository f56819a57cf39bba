"""Schemes and their versioned rules."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update

from ledger.db.tables import scheme_versions, schemes
from ledger.journal import canonical_json


class SchemesRepository:
    """Creates and reads schemes and rule versions on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def create(
        self,
        *,
        id: str,
        slug: str,
        name: str,
        unit: str,
        budget_account_id: str,
        rules: dict[str, Any],
        now: dt.datetime,
        actor: str,
    ) -> None:
        """Insert a scheme at rule version 1."""
        self.connection.execute(
            insert(schemes).values(
                id=id,
                slug=slug,
                name=name,
                unit=unit,
                budget_account_id=budget_account_id,
                current_version=1,
                created_at=now,
            )
        )
        self._insert_version(id, 1, rules, now, actor)

    def _insert_version(
        self, scheme_id: str, version: int, rules: dict[str, Any], now: dt.datetime, actor: str
    ) -> None:
        self.connection.execute(
            insert(scheme_versions).values(
                scheme_id=scheme_id,
                version=version,
                rules_json=canonical_json(rules).decode(),
                created_at=now,
                created_by=actor,
            )
        )

    def add_version(
        self, scheme_id: str, rules: dict[str, Any], now: dt.datetime, actor: str, name: str | None = None
    ) -> int:
        """Append a rule version and make it current; returns the new version number."""
        current = self.connection.execute(
            select(schemes.c.current_version).where(schemes.c.id == scheme_id).with_for_update()
        ).scalar_one()
        version = int(current) + 1
        self._insert_version(scheme_id, version, rules, now, actor)
        values: dict[str, Any] = {"current_version": version}
        if name is not None:
            values["name"] = name
        self.connection.execute(update(schemes).where(schemes.c.id == scheme_id).values(**values))
        return version

    def get(self, *, id: str | None = None, slug: str | None = None) -> dict[str, Any] | None:
        """A scheme with its current rules, by id or slug."""
        query = scheme_query()
        query = query.where(schemes.c.id == id) if id is not None else query.where(schemes.c.slug == slug)
        row = self.connection.execute(query).first()
        return None if row is None else scheme_from_row(row)

    def list(self, *, limit: int, after_slug: str = "") -> list[dict[str, Any]]:
        """Schemes in slug order after a cursor."""
        query = scheme_query().where(schemes.c.slug > after_slug).order_by(schemes.c.slug).limit(limit)
        return [scheme_from_row(row) for row in self.connection.execute(query)]


def scheme_query() -> Select[Any]:
    """Schemes with their current rules: what `scheme_from_row` reads (add a where clause)."""
    return select(schemes, scheme_versions.c.rules_json).join(
        scheme_versions,
        (scheme_versions.c.scheme_id == schemes.c.id)
        & (scheme_versions.c.version == schemes.c.current_version),
    )


def scheme_from_row(row: Any) -> dict[str, Any]:
    """A scheme as the use cases see it, from a row of `scheme_query`."""
    return {
        "id": row.id,
        "slug": row.slug,
        "name": row.name,
        "unit": row.unit,
        "budget_account_id": row.budget_account_id,
        "version": int(row.current_version),
        "rules": json.loads(row.rules_json),
        "created_at": row.created_at,
    }
