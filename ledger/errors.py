"""The one tree of expected failures; api/ maps each to an HTTP status and a stable problem type."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every expected failure; `problem` is the stable problem type slug.

    `extra` holds machine-readable members (integer amounts, the unit) that a problem body carries
    beside the detail written for people.
    """

    problem = "ledger-error"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.__class__.__doc__ or self.problem)
        self.detail = detail or (self.__class__.__doc__ or self.problem)
        self.extra = extra


class ValidationFailed(LedgerError):
    """The request is not well formed."""

    problem = "validation"


class NotFound(LedgerError):
    """No such object."""

    problem = "not-found"


class InsufficientFunds(LedgerError):
    """The wallet does not hold enough to cover this."""

    problem = "insufficient-funds"

    def __init__(
        self,
        detail: str = "",
        *,
        account_id: str | None = None,
        account_kind: str | None = None,
        **extra: Any,
    ):
        super().__init__(detail, **extra)
        self.account_id = account_id
        self.account_kind = account_kind


class BudgetExhausted(InsufficientFunds):
    """The scheme budget cannot cover this; a scheme cannot give out what it was not given."""

    problem = "budget-exhausted"


class NotAllowedHere(LedgerError):
    """This cannot be spent or done at this outlet."""

    problem = "not-allowed-here"


class CardBlocked(LedgerError):
    """The card is blocked."""

    problem = "card-blocked"


class InvalidToken(LedgerError):
    """The card token is not valid."""

    problem = "invalid-token"


class Expired(LedgerError):
    """The voucher, hold or window has expired."""

    problem = "expired"


class VouchersExpired(Expired):
    """The value that would have covered this spend here has expired (past its date, not yet swept)."""

    problem = "vouchers-expired"


class LimitExceeded(LedgerError):
    """A per-transaction, per-day or per-period limit would be exceeded."""

    problem = "limit-exceeded"


class NotEligible(LedgerError):
    """The resident is not eligible for this scheme."""

    problem = "not-eligible"


class RuleViolation(LedgerError):
    """The scheme's rules do not allow this."""

    problem = "rule-violation"


class Conflict(LedgerError):
    """The object is not in a state that allows this (already reversed, already captured...)."""

    problem = "conflict"


class IdempotencyMismatch(LedgerError):
    """This idempotency key was already used with a different request."""

    problem = "idempotency-mismatch"


class IdempotencyInFlight(LedgerError):
    """A request with this idempotency key is still being processed."""

    problem = "idempotency-conflict"


class RetryableConflict(LedgerError):
    """The database aborted the transaction for a concurrency reason; running it again is safe."""

    problem = "retry"


class Forbidden(LedgerError):
    """The caller's role or scope does not allow this."""

    problem = "forbidden"


class DatabaseUnavailable(LedgerError):
    """The database cannot be reached or is too busy to answer now; try again in a few seconds."""

    problem = "unavailable"


class TopUpsNotAccepted(RuleViolation):
    """This scheme does not accept top-ups."""

    problem = "topups-not-accepted"


class StripeNotConfigured(LedgerError):
    """Stripe is not set up for this council, so nothing that needs it can run."""

    problem = "stripe-not-configured"


class PaymentProviderFailed(LedgerError):
    """Stripe could not be reached or refused the request; nothing was charged or credited."""

    problem = "payment-provider-error"


class TwoPersonRule(Forbidden):
    """The person who made a settlement batch cannot approve it: a second finance user must."""

    problem = "two-person-rule"
