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
        data = dataclasses.asdict(self)
        data["taken"] = [list(item) for item in self.taken]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Receipt:
        """Back from stored data."""
        return cls(**{**data, "taken": tuple((str(a), int(b)) for a, b in data.get("taken", ()))})
