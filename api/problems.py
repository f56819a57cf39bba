"""RFC 9457 problem+json for every error, with stable type URIs; never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from ledger import errors
from ledger.errors import LedgerError

PROBLEM_BASE = "https://clubcard.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 2  # a PostgreSQL restart takes a few seconds; so does a busy SQLite writer

log = structlog.get_logger("clubcard.api")

# HTTP errors raised by Flask/werkzeug, mapped to the contract's stable types.
HTTP_STATUS_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "idempotency-conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
}


# Each domain error class, mapped to its HTTP status once, here: the domain knows no HTTP.
LEDGER_ERROR_STATUS: dict[type[LedgerError], int] = {
    errors.LedgerError: 400,
    errors.ValidationFailed: 422,
    errors.NotFound: 404,
    errors.InsufficientFunds: 402,
    errors.BudgetExhausted: 402,
    errors.NotAllowedHere: 403,
    errors.CardBlocked: 403,
    errors.InvalidToken: 400,
    errors.Expired: 410,
    errors.VouchersExpired: 410,
    errors.LimitExceeded: 422,
    errors.NotEligible: 422,
    errors.RuleViolation: 422,
    errors.Conflict: 409,
    errors.IdempotencyMismatch: 422,
    errors.IdempotencyInFlight: 409,
    errors.RetryableConflict: 503,
    errors.Forbidden: 403,
    errors.DatabaseUnavailable: 503,
    errors.TopUpsNotAccepted: 422,
    errors.StripeNotConfigured: 503,
    errors.PaymentProviderFailed: 502,
    errors.TwoPersonRule: 403,
}


def status_of(error: LedgerError) -> int:
    """The HTTP status of a domain error: that of its nearest mapped class, or of the error it wraps."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, LedgerError):  # one refusal standing for another (a voucher of a series)
        return status_of(cause)
    for cls in type(error).__mro__:
        if cls in LEDGER_ERROR_STATUS:
            return LEDGER_ERROR_STATUS[cls]
    return LEDGER_ERROR_STATUS[LedgerError]


class ApiProblem(Exception):
    """An error the API raises itself (auth, headers): status, type slug, detail."""

    def __init__(self, status: int, problem: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.problem = problem
        self.detail = detail
        self.extra = extra


def problem_response(status: int, problem: str, title: str, detail: str, **extra: Any) -> Response:
    """A problem+json response."""
    body = {"type": PROBLEM_BASE + problem, "title": title, "status": status, "detail": detail, **extra}
    response = Response(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="clubcard"'
    return response


def _title(problem: str) -> str:
    return problem.replace("-", " ").capitalize()


def register_problem_handlers(app: Flask) -> None:
    """Turn every exception into problem+json: ledger errors, HTTP errors, validation, bugs."""

    @app.errorhandler(LedgerError)
    def ledger_error(error: LedgerError) -> Response:
        status = status_of(error)
        response = problem_response(status, error.problem, _title(error.problem), error.detail, **error.extra)
        if status == 503:  # the database is away or busy: say when to come back
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(ApiProblem)
    def api_problem(error: ApiProblem) -> Response:
        return problem_response(
            error.status, error.problem, _title(error.problem), error.detail, **error.extra
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        problem = HTTP_STATUS_TYPES.get(status, "http-error")
        extra: dict[str, Any] = {}
        messages = getattr(error, "data", {}).get("messages") if hasattr(error, "data") else None
        if messages:
            # flask-smorest/webargs validation: say exactly which field is wrong.
            extra["errors"] = messages
            problem = "validation"
        detail = error.description or _title(problem)
        if problem == "validation" and messages:
            detail = "the request does not match the schema: " + _summarise(messages)
        response = problem_response(status, problem, _title(problem), detail, **extra)
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        if status == 429:
            response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error", error=repr(error))
        return problem_response(500, "internal", "Internal error", "something went wrong; it has been logged")


def _summarise(messages: Any, prefix: str = "") -> str:
    if isinstance(messages, dict):
        parts = [_summarise(value, f"{prefix}{key}.") for key, value in messages.items()]
        return "; ".join(parts)
    if isinstance(messages, list):
        return f"{prefix.rstrip('.')}: " + " ".join(
            str(m) for m in messages if not isinstance(m, dict | list)
        )
    return f"{prefix.rstrip('.')}: {messages}"
