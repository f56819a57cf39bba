"""Card-key trust (which key ids are distrusted, which cards they signed) and API-key listings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, insert, select

from ledger.db.tables import api_keys, cards, distrusted_card_keys

MAX_KEYS_LISTED = 10_000


class KeysRepository:
    """Reads and writes card-key distrust, and lists API keys (never their hashes), on one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def card_for_token(self, number: str) -> dict[str, Any] | None:
        """One card with ``key_distrusted``: whether the key that signed it was distrusted (one query)."""
        query = (
            select(cards, distrusted_card_keys.c.key_id.is_not(None).label("key_distrusted"))
            .select_from(
                cards.outerjoin(distrusted_card_keys, distrusted_card_keys.c.key_id == cards.c.key_id)
            )
            .where(cards.c.number == number)
        )
        row = self.connection.execute(query).first()
        return None if row is None else dict(row._mapping)

    def distrusted_key(self, key_id: str) -> dict[str, Any] | None:
        """The distrust record of a card key, or None while it is trusted."""
        query = select(distrusted_card_keys).where(distrusted_card_keys.c.key_id == key_id)
        row = self.connection.execute(query).first()
        return None if row is None else dict(row._mapping)

    def distrust(self, *, key_id: str, actor: str, now: dt.datetime) -> None:
        """Record that tokens signed by this card key are refused from now on."""
        self.connection.execute(
            insert(distrusted_card_keys).values(key_id=key_id, distrusted_at=now, distrusted_by=actor)
        )

    def distrusted_key_ids(self) -> list[str]:
        """Every distrusted card key id, sorted."""
        query = select(distrusted_card_keys.c.key_id).order_by(distrusted_card_keys.c.key_id)
        return list(self.connection.execute(query).scalars())

    def active_cards_signed_by(self, key_id: str, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` numbers of unblocked cards signed by this key, and how many there are in all."""
        active = (cards.c.key_id == key_id, cards.c.blocked_at.is_(None))
        count = self.connection.execute(select(func.count()).select_from(cards).where(*active)).scalar_one()
        query = select(cards.c.number).where(*active).order_by(cards.c.number).limit(limit)
        return list(self.connection.execute(query).scalars()), int(count)

    def cards_under_distrusted_keys(self, limit: int) -> list[str]:
        """Numbers of unblocked cards whose key was distrusted (they join the revocation list)."""
        query = (
            select(cards.c.number)
            .join(distrusted_card_keys, distrusted_card_keys.c.key_id == cards.c.key_id)
            .where(cards.c.blocked_at.is_(None))
            .order_by(cards.c.number)
            .limit(limit)
        )
        return list(self.connection.execute(query).scalars())

    def api_keys(self, limit: int = MAX_KEYS_LISTED) -> list[dict[str, Any]]:
        """API keys oldest first: id, prefix, role, outlet, label, created, revoked; never the hash."""
        columns = (
            api_keys.c.id,
            api_keys.c.prefix,
            api_keys.c.role,
            api_keys.c.outlet_id,
            api_keys.c.label,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        )
        query = select(*columns).order_by(api_keys.c.created_at, api_keys.c.id).limit(limit)
        return [dict(row._mapping) for row in self.connection.execute(query)]
