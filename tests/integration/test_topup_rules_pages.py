"""The top-up rule in the staff schemes pages: typed field by field in pounds, checked, shown in words."""

from __future__ import annotations

from tests.integration.staff_oversight_support import LEISURE, demo, rules_posted, world_of
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture

__all__ = ["staff_web_fixture"]  # a fixture
SCHEMES = "/admin/schemes"


def test_a_scheme_manager_allows_top_ups_with_limits_and_the_scheme_page_says_so(staff_web: StaffWeb) -> None:
    world = world_of(staff_web)
    demo(world, "leisure-vouchers")
    demo(world, "time-bank")
    staff_web.sign_in("scheme_manager")
    path = f"{SCHEMES}/leisure-vouchers/rules"
    rules = rules_posted(LEISURE["rules"], "GBP", "Leisure vouchers (13-19)", topups_accepted="y")

    upside_down = staff_web.post_form(
        path, {**rules, "topup_min": "2", "topup_max": "30", "topup_cap_per_month": "20"}
    )
    assert "Monthly top-up limit must be the same as or more than the largest top-up" in page_text(
        upside_down
    )
    saved = staff_web.post_form(
        path, {**rules, "topup_min": "2", "topup_max": "30", "topup_cap_per_month": "60"}
    )
    assert saved.status_code == 302, page_text(saved)

    page = page_text(staff_web.get(f"{SCHEMES}/leisure-vouchers"))
    assert "Money may be added to a card by card payment, from £2.00 to £30.00 at a time." in page
    assert "At most £60.00 a month on one card." in page
    assert 'name="topups_accepted" type="checkbox" value="y" checked' in staff_web.get(path).get_data(
        as_text=True
    )
    hours = staff_web.get(f"{SCHEMES}/time-bank/rules")
    assert "Top-ups" not in page_text(hours)  # pounds schemes only
    refused = staff_web.post_form(
        f"{SCHEMES}/time-bank/rules", {**rules_posted({}, "HOUR", "Time bank"), "topups_accepted": "y"}
    )
    assert "Only schemes in pounds can take money added by card" in page_text(refused)
