"""How many redemption batches the service keeps in flight, read from its environment."""

from __future__ import annotations

import pytest

from clubcard.group_commit import batches_in_flight
from ledger.errors import ValidationFailed


def test_one_batch_is_in_flight_unless_the_operator_asks_for_more_on_postgresql() -> None:
    assert batches_in_flight({}, "postgresql") == 1
    assert batches_in_flight({"CLUBCARD_BATCHES_IN_FLIGHT": "3"}, "postgresql") == 3


def test_sqlite_keeps_one_batch_in_flight_whatever_is_asked() -> None:
    assert batches_in_flight({"CLUBCARD_BATCHES_IN_FLIGHT": "4"}, "sqlite") == 1


@pytest.mark.parametrize("value", ["0", "17", "two", "-1", "1.5"])
def test_a_batches_in_flight_setting_out_of_range_is_refused_in_words(value: str) -> None:
    with pytest.raises(ValidationFailed, match="CLUBCARD_BATCHES_IN_FLIGHT is a whole number from 1 to 16"):
        batches_in_flight({"CLUBCARD_BATCHES_IN_FLIGHT": value}, "postgresql")
