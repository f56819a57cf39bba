"""The signed tree heads auditors list, and sealing on request with the seal in the staff log."""

from __future__ import annotations

import dataclasses
import datetime as dt

from ledger.actors import Actor
from ledger.ports import UnitOfWork
from ledger.records import CheckpointRecord
from ledger.signing import SigningKey
from ledger.usecases.checkpoints import seal
from ledger.usecases.staff_log import record_action


@dataclasses.dataclass(frozen=True)
class SealOutcome:
    """What a requested seal did: how many transactions it sealed and the new head (None: nothing new)."""

    sealed: int
    head: CheckpointRecord | None


def signed_heads(uow: UnitOfWork, *, limit: int, before_size: int | None) -> list[CheckpointRecord]:
    """Signed tree heads, newest first, strictly below `before_size` when given."""
    heads: list[CheckpointRecord] = uow.export.checkpoints_page(limit=limit, before_size=before_size)
    return heads


def seal_on_request(uow: UnitOfWork, key: SigningKey, *, now: dt.datetime, actor: Actor | str) -> SealOutcome:
    """Seal what is committed behind the safe horizon and sign a new head; a new head is in the staff log."""
    previous: CheckpointRecord | None = uow.audit.latest_checkpoint()
    head = seal(uow, key, now)
    if head is None:
        return SealOutcome(0, None)
    sealed = head.tree_size - (previous.tree_size if previous else 0)
    assert sealed > 0, "a new head covers more transactions than the one before"
    record_action(
        uow,
        actor=actor,
        action="checkpoint.seal",
        target=str(head.tree_size),
        detail={"sealed": sealed, "root_hash": head.root_hash},
        now=now,
    )
    return SealOutcome(sealed, head)
