"""What every command needs: the composition root built from the environment."""

from __future__ import annotations

from clubcard.context import LedgerContext, build_context
from ledger.settings import Settings


def open_context(*, create_missing_keys: bool = False) -> LedgerContext:
    """The ledger context for this process, from CLUBCARD_* environment variables.

    Read-only commands keep the default: a missing key file stops them with one line naming it. Only
    `serve` and the `keys` commands may create keys.
    """
    return build_context(Settings.from_environment(), create_missing_keys=create_missing_keys)
