"""The plain result of a ledger write, stored with its idempotency key and replayed verbatim."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Receipt:
    """What a write did: its transaction, amount, the lots it drew on and the wallet balance after."""

    transaction_id: str
    kind: str
    unit: str
    amount_minor: int
    recorded_at: str
    taken: tuple[tuple[str, int], ...] = ()
    balance_after_minor: int | None = None
    lot_account_id: str | None = None
    reverses_id: str | None = None
    hold_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data."""
        # Field by field rather than dataclasses.asdict, which deep-copies: this runs once per spend.
        return {
            "transaction_id": self.transaction_id,
            "kind": str(self.kind),
            "unit": self.unit,
            "amount_minor": self.amount_minor,
            "recorded_at": self.recorded_at,
            "taken": [[account_id, amount_minor] for account_id, amount_minor in self.taken],
            "balance_after_minor": self.balance_after_minor,
            "lot_account_id": self.lot_account_id,
            "reverses_id": self.reverses_id,
            "hold_id": self.hold_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        """Back from stored data."""
        return cls(**{**data, "taken": tuple((str(a), int(b)) for a, b in data.get("taken", ()))})
