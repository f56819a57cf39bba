"""Converting database rows into the domain's frozen records."""

from __future__ import annotations

import json
from typing import Any

from ledger.journal import Posting
from ledger.records import AccountRecord, HoldRecord, TransactionRecord
from ledger.units import AccountKind, Unit


def account_from_row(row: Any) -> AccountRecord:
    """An accounts row as a record."""
    return AccountRecord(
        id=row.id,
        name=row.name,
        unit=Unit(row.unit),
        kind=AccountKind(row.kind),
        floor_minor=row.floor_minor,
        shard_count=row.shard_count,
    )


def transaction_from_row(row: Any, postings: list[Any]) -> TransactionRecord:
    """A transactions row and its postings rows (in line order) as a record."""
    return TransactionRecord(
        id=row.id,
        kind=row.kind,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        actor=row.actor,
        idempotency_key=row.idempotency_key,
        outlet_id=row.outlet_id,
        scheme_id=row.scheme_id,
        rule_version=row.rule_version,
        reverses_id=row.reverses_id,
        metadata=json.loads(row.metadata_json),
        content_hash=row.content_hash,
        postings=tuple(Posting(p.account_id, Unit(p.unit), int(p.amount_minor)) for p in postings),
    )


def hold_from_row(row: Any) -> HoldRecord:
    """A holds row as a record."""
    return HoldRecord(
        id=row.id,
        status=row.status,
        owner_id=row.owner_id,
        scheme_id=row.scheme_id,
        unit=Unit(row.unit),
        amount_minor=int(row.amount_minor),
        hold_account_id=row.hold_account_id,
        payable_account_id=row.payable_account_id,
        outlet_id=row.outlet_id,
        hold_transaction_id=row.hold_transaction_id,
        resolved_transaction_id=row.resolved_transaction_id,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )
