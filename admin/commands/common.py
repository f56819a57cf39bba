"""What every command needs: the composition root built from the environment."""

from __future__ import annotations

from clubcard.context import LedgerContext, build_context
from ledger.settings import Settings


def open_context() -> LedgerContext:
    """The ledger context for this process, from CLUBCARD_* environment variables."""
    return build_context(Settings.from_environment())
