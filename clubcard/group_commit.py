"""The group commit POST /redemptions writes through, configured once for the service and its benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger.db.spend_repository import savepoint
from ledger.errors import ValidationFailed
from ledger.spend_batch import DEFAULT_BATCHES_IN_FLIGHT, GroupCommit, limits_from_environment
from ledger.usecases.redemption_batch import RUN_ALONE, prepare_redemption, redeem_batch


def batches_in_flight(environment: Mapping[str, str], dialect: str) -> int:
    """CLUBCARD_BATCHES_IN_FLIGHT (default 1) on PostgreSQL; always 1 on SQLite, which has one writer."""
    if dialect != "postgresql":
        return 1  # a second batch would only wait on BEGIN IMMEDIATE, eating into its busy timeout
    raw = environment.get("CLUBCARD_BATCHES_IN_FLIGHT") or str(DEFAULT_BATCHES_IN_FLIGHT)
    if not raw.isdigit() or not 1 <= int(raw) <= 16:
        raise ValidationFailed("CLUBCARD_BATCHES_IN_FLIGHT is a whole number from 1 to 16")
    return int(raw)


def redemption_group_commit(
    uow_factory: Callable[..., Any], environment: Mapping[str, str], dialect: str
) -> GroupCommit:
    """Redemptions set-based in batches (CLUBCARD_BATCH_MAX_ITEMS, CLUBCARD_BATCH_MAX_WAIT_MS), holds
    each in its own savepoint of a batch, and up to CLUBCARD_BATCHES_IN_FLIGHT batches at once; on
    PostgreSQL the next batch is planned while the last one waits for its COMMIT."""
    max_items, max_wait_seconds = limits_from_environment(environment)
    return GroupCommit(
        uow_factory,
        savepoint,
        max_items=max_items,
        max_wait_seconds=max_wait_seconds,
        set_based=redeem_batch,
        run_alone=RUN_ALONE,
        max_batches_in_flight=batches_in_flight(environment, dialect),
        prepare=prepare_redemption,
        overlap_commits=dialect == "postgresql",  # SQLite's next batch would only wait on the write lock
    )
