"""What a planned batch of spends writes, handed from the batch use case to its repository."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.journal import TransactionDraft

CounterKey = tuple[str, str, dt.datetime, dt.datetime]  # (owner id, scheme id, day start, day end)


@dataclasses.dataclass(frozen=True)
class BatchWrites:
    """Everything a planned batch writes."""

    moves: Mapping[str, tuple[int, int]]  # lot account id -> (delta, floor)
    drafts: Sequence[TransactionDraft]
    counts: Mapping[CounterKey, int]  # spent per wallet and council day
    answers: Sequence[tuple[tuple[str, str], str, Any, dt.datetime]]  # (scope, key), fingerprint, answer, at
    credits: Mapping[tuple[str, int], int]  # (payable account id, shard) -> credit

    def __post_init__(self) -> None:
        assert all(amount > 0 for amount in self.counts.values()), "a counter only counts spends"
        assert len(self.answers) == len(self.drafts), "one answer per transaction"
