"""Domain errors carry a problem type and words, never an HTTP status; api/problems.py maps each once."""

from __future__ import annotations

import inspect

from api.problems import LEDGER_ERROR_STATUS, status_of
from ledger import errors
from ledger.errors import LedgerError
from ledger.usecases.voucher_series import VoucherRefused


def _domain_error_classes() -> list[type[LedgerError]]:
    return [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, LedgerError)]


def test_no_domain_error_class_carries_an_http_status() -> None:
    assert [cls.__name__ for cls in _domain_error_classes() if hasattr(cls, "status")] == []


def test_every_domain_error_class_is_mapped_to_a_status_in_the_api() -> None:
    assert sorted(cls.__name__ for cls in _domain_error_classes() if cls not in LEDGER_ERROR_STATUS) == []


def test_insufficient_funds_is_payment_required_and_an_exhausted_budget_too() -> None:
    assert status_of(errors.InsufficientFunds("short by £5.50")) == 402
    assert status_of(errors.BudgetExhausted("the budget holds £0.00")) == 402


def test_a_refused_voucher_of_a_series_answers_with_the_status_of_its_cause() -> None:
    refused = VoucherRefused(2, errors.NotAllowedHere("not for work clothes"))
    assert (refused.problem, status_of(refused)) == ("not-allowed-here", 403)


def test_an_unavailable_database_is_service_unavailable() -> None:
    assert status_of(errors.DatabaseUnavailable()) == 503
