"""The running app's ledger context (built by the composition root in clubcard.context)."""

from __future__ import annotations

from flask import current_app

from clubcard.context import LedgerContext, build_context

__all__ = ["LedgerContext", "build_context", "ctx"]


def ctx() -> LedgerContext:
    """The current app's ledger context."""
    context: LedgerContext = current_app.extensions["clubcard"]
    return context
