"""The street pot's pages on SQLite and PostgreSQL: staff open a round, add proposals and close it; a
household votes on /my (one vote, changeable, from a replacement card too) and sees counts, never names,
then the result; a round past its time closes on the next visit; caseworkers read only; staff reverse
a payment."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from ledger.db.tables import staff_actions
from ledger.usecases.cards import replace_card
from tests.integration.resident_page_support import date_of_birth_fields
from tests.integration.street_pot_support import HOUSEHOLD_BORN, POT_MINOR, Street, street
from tests.support.api import World
from tests.support.staff_web import StaffWeb, csrf_token, page_text, staff_web_fixture

__all__ = ["staff_web_fixture"]


@pytest.fixture(name="oak")
def oak_fixture(staff_web: StaffWeb) -> Street:
    """The street under test, in the staff UI's app."""
    return street(World(staff_web.app, staff_web.clock))


def _pot_path(oak: Street) -> str:
    return f"/admin/street-pots/{oak.street_id}/recycling"


def _open_round_by_form(web: StaffWeb, oak: Street) -> str:
    closes = (web.clock.now() + dt.timedelta(days=7)).date()
    fields = {"closes_on": [str(closes.day), str(closes.month), str(closes.year)], "closes_time": "18:00"}
    opened = web.post_form(f"{_pot_path(oak)}/rounds", fields, form_page=_pot_path(oak))
    assert opened.status_code == 302, page_text(opened)
    found = re.search(r"/rounds/([0-9a-f-]{36})/proposals", web.get(_pot_path(oak)).get_data(as_text=True))
    assert found is not None
    return found.group(1)


def _propose_by_form(web: StaffWeb, oak: Street, round_id: str, title: str, cost: str) -> None:
    fields = {"title": title, "cost": cost, "outlet": oak.parks_id}
    added = web.post_form(f"{_pot_path(oak)}/rounds/{round_id}/proposals", fields, form_page=_pot_path(oak))
    assert added.status_code == 302, page_text(added)


def _household_signs_in(web: StaffWeb, number: str) -> None:
    web.new_client()
    fields = {"card_number": number, **date_of_birth_fields(HOUSEHOLD_BORN)}
    assert web.post_form("/my/sign-in/date-of-birth", fields).status_code == 302


def _vote(web: StaffWeb, round_id: str, title: str) -> str:
    page = web.get("/my/street").get_data(as_text=True)
    found = re.search(r'value="([0-9a-f-]{36})"[^>]*>\s*<label[^>]*>\s*' + re.escape(title), page)
    assert found is not None, "no choice for " + title
    voted = web.client.post(
        f"/my/street/rounds/{round_id}/vote",
        data={"proposal": found.group(1), "csrf_token": csrf_token(page)},
    )
    assert voted.status_code == 302, page_text(voted)
    return page_text(web.get(voted.headers["Location"]))


def _actions(web: StaffWeb) -> list[str]:
    query = select(staff_actions.c.action).where(staff_actions.c.action.like("street_pot.%"))
    return sorted(web.context.read(lambda uow: uow.execute_now(query).scalars().all()))


def test_a_round_from_proposals_to_payment_through_the_pages(staff_web: StaffWeb, oak: Street) -> None:
    staff_web.sign_in("scheme_manager")
    assert "800 points" in page_text(staff_web.get("/admin/street-pots"))
    round_id = _open_round_by_form(staff_web, oak)
    _propose_by_form(staff_web, oak, round_id, "Two street trees", "600")
    _propose_by_form(staff_web, oak, round_id, "Extra recycling bins", "200")

    _household_signs_in(staff_web, oak.cards[0][0])
    assert "Your household's vote is counted" in _vote(staff_web, round_id, "Extra recycling bins")
    changed = _vote(staff_web, round_id, "Two street trees")
    assert "Your household's vote is changed" in changed and "1 of 3 households have voted" in changed
    assert "Oak Street" in changed and "Householder" not in changed  # counts, never who voted
    replacement = staff_web.context.write(
        lambda uow: replace_card(
            uow, number=oak.cards[0][0], key=staff_web.context.card_key, now=staff_web.clock.now()
        )
    )
    _household_signs_in(staff_web, replacement.number)
    assert "1 of 3 households have voted" in _vote(staff_web, round_id, "Extra recycling bins")
    _household_signs_in(staff_web, oak.cards[1][0])
    _vote(staff_web, round_id, "Extra recycling bins")

    staff_web.new_client()
    staff_web.sign_in("scheme_manager", "manager-two")
    closed = staff_web.post_form(f"{_pot_path(oak)}/rounds/{round_id}/close", {}, form_page=_pot_path(oak))
    assert closed.status_code == 302
    staff_page = page_text(staff_web.get(_pot_path(oak)))
    assert "The pot paid Parks and Gardens Team 200 points" in staff_page and "600 points" in staff_page
    assert oak.pot() == POT_MINOR - 200

    _household_signs_in(staff_web, oak.cards[2][0])
    seen = page_text(staff_web.get("/my/street"))
    assert "The winner was Extra recycling bins" in seen and "paid Parks and Gardens Team 200 points" in seen
    assert "2 households voted" in seen
    assert _actions(staff_web) == sorted(
        ["street_pot.open", "street_pot.propose", "street_pot.propose", "street_pot.close"]
    )


def test_a_round_past_its_closing_time_closes_on_the_next_visit_to_the_household_page(
    staff_web: StaffWeb, oak: Street
) -> None:
    round_id = oak.open_round(days=1)
    oak.propose(round_id, "Extra recycling bins", 200)
    _household_signs_in(staff_web, oak.cards[0][0])
    _vote(staff_web, round_id, "Extra recycling bins")
    staff_web.clock.advance(dt.timedelta(days=1, minutes=1))
    _household_signs_in(staff_web, oak.cards[1][0])

    seen = page_text(staff_web.get("/my/street"))

    assert "The winner was Extra recycling bins" in seen and oak.pot() == POT_MINOR - 200
    refused = staff_web.client.post(
        f"/my/street/rounds/{round_id}/vote",
        data={"proposal": "x", "csrf_token": csrf_token(staff_web.get("/my/street").get_data(as_text=True))},
    )
    assert refused.status_code == 404


def test_a_caseworker_reads_the_pot_but_changes_nothing(staff_web: StaffWeb, oak: Street) -> None:
    round_id = oak.open_round()
    oak.propose(round_id, "Extra recycling bins", 200)
    staff_web.sign_in("caseworker")
    page = staff_web.get(_pot_path(oak))
    assert page.status_code == 200 and "Extra recycling bins" in page_text(page)
    assert "Close voting" not in page_text(page)
    token = csrf_token(page.get_data(as_text=True))  # the sign-out form's: a caseworker has no close form
    closed = staff_web.client.post(f"{_pot_path(oak)}/rounds/{round_id}/close", data={"csrf_token": token})
    assert closed.status_code == 403 and oak.pot() == POT_MINOR


def test_a_household_on_another_street_sees_no_vote_on_this_street(staff_web: StaffWeb, oak: Street) -> None:
    round_id = oak.open_round()
    oak.propose(round_id, "Extra recycling bins", 200)
    number, _ = oak.world.card(oak.elsewhere_id)
    _household_signs_in(staff_web, number)
    page = staff_web.get("/my/street")
    assert page.status_code == 200 and "Extra recycling bins" not in page_text(page)
    assert "Oak Street" not in page_text(page)
    refused = staff_web.client.post(
        f"/my/street/rounds/{round_id}/vote",
        data={"proposal": "x", "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert refused.status_code == 404


def test_staff_reverse_a_payment_with_a_reason_and_the_pot_is_refilled(
    staff_web: StaffWeb, oak: Street
) -> None:
    round_id = oak.open_round()
    oak.propose(round_id, "Extra recycling bins", 200)
    _household_signs_in(staff_web, oak.cards[0][0])
    _vote(staff_web, round_id, "Extra recycling bins")
    staff_web.new_client()
    staff_web.sign_in("admin")
    staff_web.post_form(f"{_pot_path(oak)}/rounds/{round_id}/close", {}, form_page=_pot_path(oak))
    path = f"{_pot_path(oak)}/rounds/{round_id}/reverse"

    reversed_ = staff_web.post_form(path, {"reason": "The bins never came"})

    assert reversed_.status_code == 302 and oak.pot() == POT_MINOR
    assert "Reversed" in page_text(staff_web.get(_pot_path(oak)))
    assert "street_pot.reverse" in _actions(staff_web)
    oak.world.assert_audit_ok()
