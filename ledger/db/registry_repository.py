"""Outlets, API keys and the staff action log (jobs: ledger.db.jobs_repository)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from ledger.db.tables import api_keys, outlets, staff_actions
from ledger.journal import canonical_json

MAX_STAFF_ACTIONS_LISTED = 1_000


class RegistryRepository:
    """Reads and writes the registry tables on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_outlet(
        self, *, id: str, name: str, categories: list[str], schemes: list[str], now: dt.datetime
    ) -> None:
        """Insert an outlet."""
        self.connection.execute(
            insert(outlets).values(
                id=id,
                name=name,
                categories_json=json.dumps(sorted(categories)),
                schemes_json=json.dumps(sorted(schemes)),
                created_at=now,
            )
        )

    def outlet(self, outlet_id: str) -> dict[str, Any] | None:
        """One outlet."""
        row = self.connection.execute(select(outlets).where(outlets.c.id == outlet_id)).first()
        return None if row is None else _outlet(row)

    def update_outlet(
        self,
        outlet_id: str,
        *,
        name: str | None = None,
        categories: list[str] | None = None,
        schemes: list[str] | None = None,
    ) -> bool:
        """Change the given fields of an outlet (the others stay as they are); False if there is none."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if categories is not None:
            values["categories_json"] = json.dumps(sorted(categories))
        if schemes is not None:
            values["schemes_json"] = json.dumps(sorted(schemes))
        assert values, "an outlet update changes something"
        result = self.connection.execute(update(outlets).where(outlets.c.id == outlet_id).values(**values))
        return result.rowcount == 1

    def outlets(self, *, limit: int, after: str = "") -> list[dict[str, Any]]:
        """Outlets by id after a cursor."""
        query = select(outlets).where(outlets.c.id > after).order_by(outlets.c.id).limit(limit)
        return [_outlet(row) for row in self.connection.execute(query)]

    def add_api_key(
        self,
        *,
        id: str,
        key_hash: str,
        prefix: str,
        role: str,
        outlet_id: str | None,
        label: str,
        now: dt.datetime,
    ) -> None:
        """Insert an API key (hash only)."""
        self.connection.execute(
            insert(api_keys).values(
                id=id,
                key_hash=key_hash,
                prefix=prefix,
                role=role,
                outlet_id=outlet_id,
                label=label,
                created_at=now,
                revoked_at=None,
            )
        )

    def api_key_by_hash(self, key_hash: str) -> dict[str, Any] | None:
        """The key row with this hash."""
        row = self.connection.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return None if row is None else dict(row._mapping)

    def revoke_api_key(self, key_id: str, now: dt.datetime) -> bool:
        """Revoke an active key; False if none."""
        result = self.connection.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    def api_key(self, key_id: str) -> dict[str, Any] | None:
        """One key by id, without its hash."""
        row = self.connection.execute(select(*_KEY_COLUMNS).where(api_keys.c.id == key_id)).first()
        return None if row is None else dict(row._mapping)

    def devices(self, outlet_id: str) -> list[dict[str, Any]]:
        """Device keys of an outlet (no secrets)."""
        query = select(*_KEY_COLUMNS).where(api_keys.c.outlet_id == outlet_id, api_keys.c.role == "device")
        query = query.order_by(api_keys.c.created_at, api_keys.c.id)
        return [dict(row._mapping) for row in self.connection.execute(query)]

    def log_action(
        self,
        *,
        id: str,
        actor: str,
        action: str,
        target: str,
        detail: dict[str, Any],
        now: dt.datetime,
        key_id: str | None = None,
        remote_address: str | None = None,
    ) -> None:
        """Append to the staff action log: who did what, to what, when, and from where."""
        self.connection.execute(
            insert(staff_actions).values(
                id=id,
                at=now,
                actor=actor,
                action=action,
                target=target,
                detail_json=canonical_json(detail).decode(),
                key_id=key_id,
                remote_address=remote_address,
            )
        )

    def staff_action(self, action_id: str) -> dict[str, Any] | None:
        """One staff action by id."""
        row = self.connection.execute(select(staff_actions).where(staff_actions.c.id == action_id)).first()
        return None if row is None else _staff_action(row)

    def staff_actions(
        self,
        *,
        filters: dict[str, str],
        after: dt.datetime | None,
        up_to: dt.datetime | None,
        before: tuple[dt.datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Staff actions newest first: exact `filters` on actor, action or target, recorded after
        `after` up to and including `up_to`, older than the `before` (at, id) cursor."""
        assert set(filters) <= {"actor", "action", "target"}, "filters are on actor, action or target"
        query = select(staff_actions).where(
            *(staff_actions.c[name] == value for name, value in filters.items())
        )
        if after is not None:
            query = query.where(staff_actions.c.at > after)
        if up_to is not None:
            query = query.where(staff_actions.c.at <= up_to)
        if before is not None:
            at, action_id = before
            query = query.where(
                or_(staff_actions.c.at < at, and_(staff_actions.c.at == at, staff_actions.c.id < action_id))
            )
        query = query.order_by(staff_actions.c.at.desc(), staff_actions.c.id.desc())
        rows = self.connection.execute(query.limit(min(limit, MAX_STAFF_ACTIONS_LISTED)))
        return [_staff_action(row) for row in rows]


_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.prefix,
    api_keys.c.role,
    api_keys.c.outlet_id,
    api_keys.c.label,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
)


def _outlet(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "categories": json.loads(row.categories_json),
        "schemes": json.loads(row.schemes_json),
        "created_at": row.created_at,
    }


def _staff_action(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "detail": json.loads(row.detail_json),
        "key_id": row.key_id,
        "remote_address": row.remote_address,
    }
