"""The settlements pages of the staff UI, on SQLite and PostgreSQL: one finance user previews and makes a
batch, sees no approve button and is refused if they post anyway; another approves; the payment file,
confirming it paid, statements, payout details; auditors read with no control shown; the staff log."""

from __future__ import annotations

import datetime as dt
import re

from tests.integration.settlement_support import SettlementWorld
from tests.integration.staff_oversight_support import staff_log
from tests.support.staff_web import StaffWeb, csrf_token, page_text, staff_web_fixture

__all__ = ["staff_web_fixture"]
SETTLEMENTS = "/admin/settlements"


def _world(staff_web: StaffWeb) -> tuple[SettlementWorld, str, str]:
    world = SettlementWorld(staff_web.app, staff_web.clock)
    world.setup_scheme()
    pool, pool_key = world.outlet(["leisure-centre"], ["leisure"])
    world.payee(pool, sort_code="309430", account_number="12345678", account_name="Riverside Leisure")
    library, library_key = world.outlet(["library"], ["leisure"])
    world.redeem(pool_key, 1250)
    world.redeem(library_key, 300)
    world.clock.advance(dt.timedelta(days=1))  # the batch settles yesterday
    return world, pool, library


def _make_batch(staff_web: StaffWeb) -> str:
    """Preview and create a batch for yesterday, as the signed-in user; the batch page's path."""
    day = staff_web.clock.now() - dt.timedelta(days=1)
    fields = {"last_day": [str(day.day), str(day.month), str(day.year)]}
    preview = staff_web.post_form(f"{SETTLEMENTS}/new", fields)
    text = page_text(preview)
    assert "To pay: £15.50 to 2 outlets" in text and "outlet £12.50 Paid once approved" in text
    page = preview.get_data(as_text=True)
    period_end = re.search(r'name="period_end" type="hidden" value="([^"]+)"', page)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page)
    assert period_end and key
    made = staff_web.client.post(
        f"{SETTLEMENTS}/new",
        data={"period_end": period_end[1], "request_key": key[1], "csrf_token": csrf_token(page)},
    )
    assert made.status_code == 302, page_text(made)
    return str(made.headers["Location"])


def test_a_second_finance_user_approves_and_confirms_the_payment_file(staff_web: StaffWeb) -> None:
    world, pool, library = _world(staff_web)
    staff_web.sign_in("finance", "ann")
    batch_page = _make_batch(staff_web)
    mine = staff_web.get(batch_page)
    assert "another finance user must approve it" in page_text(mine)
    assert "Approve and pay" not in page_text(mine)
    refused = staff_web.client.post(
        f"{batch_page}/approve",
        data={"request_key": "k1", "csrf_token": csrf_token(mine.get_data(as_text=True))},
    )
    assert refused.status_code == 403
    staff_web.new_client()
    staff_web.sign_in("finance", "bob")
    assert "Approve and pay" in page_text(staff_web.get(batch_page))
    approved = staff_web.post_form(f"{batch_page}/approve", {"request_key": "k2"}, form_page=batch_page)
    assert approved.status_code == 302
    text = page_text(staff_web.get(batch_page))
    assert "Held back No bank details" in text and "Add payout details" in text
    payment_file = staff_web.get(f"{batch_page}/payment-file.csv")
    assert payment_file.headers["Cache-Control"] == "no-store"
    assert "309430,12345678,RIVERSIDE LEISURE,1250,CLUBCARD SETTLE 1" in payment_file.get_data(as_text=True)
    paid = staff_web.post_form(f"{batch_page}/paid", {"request_key": "k3"}, form_page=batch_page)
    assert "£12.50 booked to the bank" in page_text(staff_web.get(paid.headers["Location"]))
    assert [entry["actor"] for entry in staff_log(staff_web, "settlement.create")] == ["finance:ann"]
    assert [entry["actor"] for entry in staff_log(staff_web, "settlement.approve")] == ["finance:bob"]
    assert len(staff_log(staff_web, "settlement.confirm_paid")) == 1
    assert (world.payable(pool), world.payable(library), world.clearing()) == (0, 300, 0)
    world.assert_books_right()


def test_auditors_read_batches_and_statements_with_no_control_shown(staff_web: StaffWeb) -> None:
    _world(staff_web)
    staff_web.sign_in("finance", "ann")
    batch_page = _make_batch(staff_web)
    staff_web.new_client()
    staff_web.sign_in("auditor")
    listed = page_text(staff_web.get(SETTLEMENTS))
    assert "Batch 1" in listed and "Make a settlement batch" not in listed
    page = staff_web.get(batch_page).get_data(as_text=True)
    assert 'method="post" action="/admin/settlements' not in page and "Add payout details" not in page
    assert staff_web.get(f"{SETTLEMENTS}/new").status_code == 403
    assert staff_web.get(f"{batch_page}/payment-file.csv").status_code == 403
    statement_link = re.search(r'href="(/admin/settlements/[^"]+\.csv)"', page)
    assert statement_link
    csv_text = staff_web.get(statement_link[1]).get_data(as_text=True)
    assert ",redeem," in csv_text and "line_total" in csv_text
    pdf = staff_web.get(statement_link[1].replace(".csv", ".pdf"))
    assert pdf.content_type == "application/pdf" and pdf.get_data().startswith(b"%PDF")


def test_payout_details_are_checked_saved_and_logged(staff_web: StaffWeb) -> None:
    world, pool, _ = _world(staff_web)
    staff_web.sign_in("admin")
    path = f"/admin/outlets/{pool}/payout"
    assert "Payout details : where settlements pay this outlet" in page_text(
        staff_web.get(f"/admin/outlets/{pool}")
    )
    bad = staff_web.post_form(path, {"connected_account_id": "not-an-account"})
    assert bad.status_code == 200 and "A stripe connected account id looks like acct_1a2b3c" in page_text(bad)
    saved = staff_web.post_form(
        path,
        {
            "connected_account_id": "acct_1Riverside",
            "sort_code": "30-94-30",
            "account_number": "12345678",
            "account_name": "riverside leisure",
        },
    )
    assert saved.status_code == 302
    text = page_text(staff_web.get(path))
    assert "The payout details of outlet are saved." in text
    assert 'value="acct_1Riverside"' in staff_web.get(path).get_data(as_text=True)
    (entry,) = [entry for entry in staff_log(staff_web, "outlet.payee") if entry["actor"] == "admin:admin"]
    assert entry["detail"]["connected_account_id"]["after"] == "acct_1Riverside"
    assert entry["detail"]["account_number_ending"] == "5678"
    world.assert_books_right()
