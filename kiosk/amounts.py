"""Moved to ledger.amounts (the one parser the kiosk and the staff UI share); kept for imports in flight."""

from ledger.amounts import EXAMPLES, AmountNotUnderstood, parse_amount, typed_form

__all__ = ["EXAMPLES", "AmountNotUnderstood", "parse_amount", "typed_form"]
