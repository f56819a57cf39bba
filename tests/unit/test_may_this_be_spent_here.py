"""May this be spent here? The one rule, on plain outlets and schemes: approval, categories, purposes."""

from __future__ import annotations

import pytest

from ledger.errors import NotAllowedHere
from ledger.places import Outlet, Scheme
from ledger.rules import Spending
from ledger.units import Unit
from ledger.usecases.requests import approves

LEISURE = Scheme(
    "s-leisure",
    "leisure-vouchers",
    "Leisure vouchers",
    Unit.GBP,
    Spending(outlet_categories=("leisure-centre", "library")),
)
RELEASE = Scheme(
    "s-release",
    "release-vouchers",
    "Release vouchers",
    Unit.GBP,
    Spending(
        purpose_categories={"accommodation": ("hostel",), "work-clothes": ("clothes-shop", "charity-shop")}
    ),
)
ANYWHERE = Scheme("s-time", "time-bank", "Time bank", Unit.HOUR, Spending())


def outlet(categories: set[str], schemes: set[str]) -> Outlet:
    return Outlet("o1", "Northgate", frozenset(categories), frozenset(schemes))


def test_an_approved_outlet_of_an_allowed_kind_takes_the_scheme() -> None:
    pool = outlet({"leisure-centre"}, {"leisure-vouchers"})
    assert LEISURE.may_be_spent_at(pool)
    LEISURE.require_spendable_at(pool)


def test_an_outlet_may_be_approved_by_the_schemes_id_as_well_as_its_slug() -> None:
    assert LEISURE.may_be_spent_at(outlet({"library"}, {"s-leisure"}))


def test_an_outlet_of_the_right_kind_that_is_not_approved_is_refused_saying_so() -> None:
    pool = outlet({"leisure-centre"}, {"time-bank"})
    assert not LEISURE.may_be_spent_at(pool)
    with pytest.raises(NotAllowedHere, match="this outlet is not approved for leisure-vouchers"):
        LEISURE.require_spendable_at(pool)


def test_an_approved_outlet_of_the_wrong_kind_is_refused_saying_so() -> None:
    studio = outlet({"recording-studio"}, {"leisure-vouchers"})
    assert not LEISURE.may_be_spent_at(studio)
    with pytest.raises(NotAllowedHere, match="leisure-vouchers cannot be spent at this kind of outlet"):
        LEISURE.require_spendable_at(studio)


def test_a_scheme_that_names_no_categories_may_be_spent_at_any_approved_outlet() -> None:
    assert ANYWHERE.may_be_spent_at(outlet({"anything"}, {"time-bank"}))
    assert ANYWHERE.may_be_spent_at(outlet(set(), {"time-bank"}))
    assert not ANYWHERE.may_be_spent_at(outlet(set(), set()))


def test_a_purpose_is_spendable_only_where_the_outlet_has_one_of_its_categories() -> None:
    charity_shop = outlet({"charity-shop"}, {"release-vouchers"})
    assert RELEASE.may_be_spent_at(charity_shop)
    # The outlet's own category stays spendable too: a lot of category charity-shop is spent there.
    assert RELEASE.lot_categories_at(charity_shop) == {"work-clothes", "charity-shop"}
    hostel = outlet({"hostel"}, {"release-vouchers"})
    assert RELEASE.lot_categories_at(hostel) == {"accommodation", "hostel"}
    assert not RELEASE.may_be_spent_at(outlet({"leisure-centre"}, {"release-vouchers"}))


def test_a_lot_category_that_is_no_purpose_is_spendable_where_the_outlet_has_that_category_itself() -> None:
    library = outlet({"library", "leisure-centre"}, {"leisure-vouchers"})
    assert LEISURE.lot_categories_at(library) == {"library", "leisure-centre"}


def test_a_scheme_read_from_storage_has_its_spending_rules_parsed() -> None:
    stored = {
        "id": "s1",
        "slug": "leisure-vouchers",
        "name": "Leisure",
        "unit": "GBP",
        "rules": {"spending": {"outlet_categories": ["library"]}},
    }
    scheme = Scheme.from_record(stored)
    registered = {"id": "o1", "name": "Central Library", "categories": ["library"], "schemes": ["s1"]}
    assert scheme.unit is Unit.GBP and scheme.may_be_spent_at(Outlet.from_record(registered))
    assert approves(registered, stored) and not approves({**registered, "schemes": []}, stored)
