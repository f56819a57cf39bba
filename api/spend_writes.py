"""Writes that draw on a wallet (redemptions, holds, transfers) go through this process's group commit."""

from __future__ import annotations

import os
from typing import Any

from flask import current_app

from api.context import ctx
from clubcard.group_commit import redemption_group_commit
from ledger.spend_batch import GroupCommit
from ledger.usecases.redemption_batch import BatchedRedemption

GROUP_COMMIT_EXTENSION = "clubcard.group_commit"


def spend_write(operation: Any, item: BatchedRedemption | None = None) -> Any:
    """Run a spend through this process's group commit (CLUBCARD_GROUP_COMMIT=0: its own transaction).

    A redemption (`item`) joins its batch-mates in the set-based executor; a hold or a transfer runs in its
    own savepoint of the same batch."""
    if os.environ.get("CLUBCARD_GROUP_COMMIT") == "0":
        return ctx().write(operation)
    group: GroupCommit | None = current_app.extensions.get(GROUP_COMMIT_EXTENSION)
    if group is None:
        context = ctx()
        group = current_app.extensions.setdefault(
            GROUP_COMMIT_EXTENSION,
            redemption_group_commit(context.uow_factory, os.environ, context.engine.dialect.name),
        )
    return group.run(operation, item)
