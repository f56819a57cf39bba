"""Who may join a scheme, decided on a resident's details in memory: age band on a date (both ends
included), wards and postcode areas however they are typed, resident kinds, referrals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ledger.errors import NotEligible
from ledger.rules import Eligibility
from ledger.usecases.memberships import check_eligibility

ON = dt.date(2026, 11, 4)
TEENS = Eligibility(min_age=13, max_age=19)


def resident(kind: str = "person", erased: bool = False, **details: Any) -> dict[str, Any]:
    known = {"name": "Test", "date_of_birth": "2010-01-01", "postcode": "DB1 2AB", "ward": "Riverside"}
    return {"kind": kind, "erased_at": ON if erased else None, "details": None if erased else known | details}


def refusal(rules: Eligibility, who: dict[str, Any], referral: str | None = None) -> str:
    with pytest.raises(NotEligible) as refused:
        check_eligibility(rules, who, referral=referral, on=ON)
    return refused.value.detail


def test_the_age_band_includes_the_thirteenth_birthday_and_the_last_day_aged_nineteen() -> None:
    check_eligibility(TEENS, resident(date_of_birth="2013-11-04"), referral=None, on=ON)
    check_eligibility(TEENS, resident(date_of_birth="2006-11-05"), referral=None, on=ON)
    assert "aged 12 on 2026-11-04" in refusal(TEENS, resident(date_of_birth="2013-11-05"))
    assert "aged 20" in refusal(TEENS, resident(date_of_birth="2006-11-04"))


def test_an_age_band_with_no_date_of_birth_on_record_refuses_saying_so() -> None:
    assert "no date of birth" in refusal(TEENS, resident(date_of_birth=None))


def test_a_ward_matches_whatever_its_case_and_spacing() -> None:
    rules = Eligibility(wards=("Riverside", "Northgate"))
    check_eligibility(rules, resident(ward="  riverSIDE "), referral=None, on=ON)
    assert "ward" in refusal(rules, resident(ward="Hillside"))
    assert "ward" in refusal(rules, resident(ward=None))


def test_a_postcode_area_matches_without_spaces_or_capitals() -> None:
    rules = Eligibility(postcode_prefixes=("SE1",))
    check_eligibility(rules, resident(postcode="se17pb"), referral=None, on=ON)
    check_eligibility(rules, resident(postcode="SE1 7PB"), referral=None, on=ON)
    assert "postcode" in refusal(rules, resident(postcode="SW1A 1AA"))
    assert "postcode" in refusal(rules, resident(postcode=None))


def test_only_the_kinds_of_resident_a_scheme_names_may_join() -> None:
    streets = Eligibility(resident_kinds=("household", "collective"))
    check_eligibility(streets, resident(kind="collective", date_of_birth=None), referral=None, on=ON)
    assert "this resident is a person" in refusal(streets, resident())
    assert "this resident is a collective" in refusal(Eligibility(), resident(kind="collective"))


def test_a_scheme_that_needs_a_referral_refuses_without_one() -> None:
    rules = Eligibility(min_age=18, referral_required=True)
    adult = resident(date_of_birth="1990-01-02")
    check_eligibility(rules, adult, referral="probation ref 42", on=ON)
    assert "referral" in refusal(rules, adult)
    assert "referral" in refusal(rules, adult, referral="")


def test_nobody_whose_personal_data_was_erased_can_be_shown_eligible() -> None:
    assert "erased" in refusal(Eligibility(), resident(erased=True))
