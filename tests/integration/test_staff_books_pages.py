"""The books and the staff log in the staff UI, on SQLite and PostgreSQL: trial balance at any instant,
the journal with its filters and drill-down, account history, checkpoints, downloads, who may read them."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import update

from admin.web.pages import books, staff_log
from ledger.clock import rfc3339
from ledger.db.tables import balances
from ledger.units import format_amount
from ledger.usecases import books_reports
from ledger.usecases.audit import trial_balance
from ledger.usecases.books_reports import checkpoint_status
from tests.integration.staff_books_support import Ledger, date_boxes, links, small_ledger
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

BOOKS_PAGES = (
    "/admin/books",
    "/admin/books/trial-balance",
    "/admin/books/journal",
    "/admin/books/checkpoints",
)


@pytest.fixture
def ledger(staff_web: StaffWeb) -> Ledger:
    return small_ledger(staff_web)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_trial_balance_sums_every_account_from_its_postings_and_shows_zero_per_unit(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")

    text = page_text(staff_web.get("/admin/books/trial-balance"))

    assert "GBP £0.00 Yes: totals zero HOUR 0 min Yes: totals zero POINT 0 points Yes: totals zero" in text
    expected = staff_web.context.read(lambda uow: trial_balance(uow, staff_web.clock.now()))
    for line in expected.lines:
        assert line.name in text
    assert "scheme:leisure:budget GBP £70.00" in text and "wallet:r1:leisure:main GBP £30.00" in text
    assert "scheme:timebank:budget HOUR 8 h 30 min" in text


def test_the_trial_balance_at_an_earlier_date_and_time_counts_only_what_was_recorded_by_then(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")
    at = ledger.spent_at  # 11:00 UTC on 2 November is 11:00 in London (GMT)
    boxes = date_boxes("date", at.day, at.month, at.year) | date_boxes("time", 10, 59, 59)

    before = page_text(staff_web.client.get("/admin/books/trial-balance", query_string=boxes))
    boxes["time"] = ["11", "00", ""]
    at_the_spend = page_text(staff_web.client.get("/admin/books/trial-balance", query_string=boxes))

    assert "As of 2 November 2026 10:59:59 UTC" in before
    assert "wallet:r1:leisure:main GBP £30.00" in before and "payable" not in before
    assert "As of 2 November 2026 11:00:00 UTC" in at_the_spend  # inclusive of the instant itself
    assert "wallet:r1:leisure:main GBP £17.50" in at_the_spend
    assert "GBP £0.00 Yes: totals zero" in before and "GBP £0.00 Yes: totals zero" in at_the_spend


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        (date_boxes("date", 31, 2, 2026), "The date must be a real date"),
        (date_boxes("date", 2, "", 2026), "The date must include a month"),
        (date_boxes("time", 9, 30), "Enter the date as well as the time"),
        (date_boxes("date", 2, 11, 2026) | date_boxes("time", 25, 0), "The time must be a real time"),
        (
            date_boxes("date", 2, 11, 2026) | date_boxes("time", 9),
            "The time must include an hour and a minute",
        ),
    ],
)
def test_an_impossible_instant_is_refused_in_words_and_shows_no_balances(
    staff_web: StaffWeb, boxes: dict[str, list[str]], message: str
) -> None:
    staff_web.sign_in("auditor")

    response = staff_web.client.get("/admin/books/trial-balance", query_string=boxes)

    assert response.status_code == 200
    assert "There is a problem" in page_text(response) and message in page_text(response)
    assert "As of" not in page_text(response)


def test_the_trial_balance_pages_through_accounts_by_name_at_one_instant(
    staff_web: StaffWeb, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(books, "TRIAL_BALANCE_PAGE_SIZE", 2)
    staff_web.sign_in("finance")
    seen: list[str] = []
    first_instant = rfc3339(staff_web.clock.now())
    page = staff_web.get("/admin/books/trial-balance")
    for _ in range(10):
        seen += re.findall(r'/admin/books/accounts/[^"]+">([^<]+)</a>', page.get_data(as_text=True))
        more = [link for link in links(page.get_data(as_text=True)) if "after=" in link]
        if not more:
            break
        assert f"at={first_instant}" in more[0]
        staff_web.clock.advance(dt.timedelta(minutes=1))  # later pages keep the first page's instant
        page = staff_web.get(more[0])

    expected = staff_web.context.read(lambda uow: trial_balance(uow, staff_web.clock.now()))
    assert seen == [line.name for line in expected.lines] and len(seen) == 6
    assert "First accounts" in page_text(page)


@pytest.mark.parametrize("recent_transactions", [0, 50_000], ids=["summed-up-to-it", "counted-back-from-now"])
def test_the_trial_balance_page_agrees_with_the_download_that_sums_every_posting_either_way_it_is_read(
    staff_web: StaffWeb, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, recent_transactions: int
) -> None:
    monkeypatch.setattr(books_reports, "RECENT_TRANSACTIONS", recent_transactions)
    staff_web.sign_in("auditor")
    for at in (ledger.spent_at, staff_web.clock.now()):
        query = {"at": rfc3339(at)}
        page = staff_web.client.get("/admin/books/trial-balance", query_string=query).get_data(as_text=True)
        shown = dict(
            re.findall(
                r'/admin/books/accounts/[^"]+">([^<]+)</a>.*?clubcard-amount">([^<]+)</td>', page, re.S
            )
        )
        download = staff_web.client.get("/admin/books/trial-balance.csv", query_string=query)
        summed = {
            row["account_name"]: format_amount(int(row["balance_minor"]), row["unit"])
            for row in _rows(download.get_data(as_text=True))
            if row["account_id"]
        }
        assert shown == summed and len(summed) >= 4
        assert ("stored balance now less the postings" in page) is (recent_transactions > 0)


@pytest.mark.parametrize(
    ("scheme", "shown"),
    [("leisure", "GBP £0.01 No: does not total zero"), ("timebank", "HOUR 1 min No: does not")],
)
def test_a_stored_balance_altered_behind_the_ledgers_back_shows_as_a_unit_that_does_not_total_zero(
    staff_web: StaffWeb, ledger: Ledger, scheme: str, shown: str
) -> None:
    budget = (ledger.leisure if scheme == "leisure" else ledger.timebank)["budget_account_id"]
    with staff_web.context.engine.begin() as connection:
        connection.execute(
            update(balances)
            .where(balances.c.account_id == budget)
            .values(balance_minor=balances.c.balance_minor + 1)
        )
    staff_web.sign_in("auditor")

    text = page_text(staff_web.get("/admin/books/trial-balance"))

    assert shown in text and text.count("Yes: totals zero") == 2
    download = _rows(staff_web.get("/admin/books/trial-balance.csv").get_data(as_text=True))
    assert {int(row["balance_minor"]) for row in download if row["account_name"] == "total"} == {0}


def test_the_trial_balance_downloads_as_csv_with_a_zero_total_per_unit(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")

    response = staff_web.client.get(
        "/admin/books/trial-balance.csv", query_string={"at": rfc3339(ledger.spent_at)}
    )

    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response.get_data(as_text=True))
    totals = {row["unit"]: int(row["balance_minor"]) for row in rows if row["account_name"] == "total"}
    assert totals == {"GBP": 0, "HOUR": 0, "POINT": 0}
    lines = {row["account_name"]: int(row["balance_minor"]) for row in rows if row["account_id"]}
    assert lines["wallet:r1:leisure:main"] == 1_750 and "scheme:timebank:budget" not in lines


def test_the_journal_lists_newest_first_and_filters_by_kind_scheme_outlet_and_dates(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")

    def kinds(**query: object) -> list[str]:
        page = staff_web.client.get("/admin/books/journal", query_string=query).get_data(as_text=True)
        return re.findall(r'<td class="govuk-table__cell">(Fund|Issue|Redeem|Reversal)</td>', page)

    assert kinds() == ["Issue", "Fund", "Reversal", "Redeem", "Issue", "Fund"]
    assert kinds(kind="redeem") == ["Redeem"]
    assert kinds(scheme=ledger.timebank["id"]) == ["Issue", "Fund"]
    assert kinds(outlet=ledger.outlet["id"]) == ["Reversal", "Redeem"]
    assert kinds(**date_boxes("from", 3, 11, 2026)) == []
    assert kinds(**date_boxes("to", 1, 11, 2026)) == []
    assert len(kinds(**date_boxes("from", 2, 11, 2026), **date_boxes("to", 2, 11, 2026))) == 6
    page = page_text(staff_web.get(f"/admin/books/journal?outlet={ledger.outlet['id']}"))
    assert "Riverside Leisure £12.50" in page and "Leisure vouchers" in page


def test_the_journal_refuses_a_kind_it_does_not_know_and_a_period_that_ends_before_it_begins(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")

    unknown = page_text(staff_web.get("/admin/books/journal?kind=bribe"))
    backwards = page_text(
        staff_web.client.get(
            "/admin/books/journal",
            query_string=date_boxes("from", 3, 11, 2026) | date_boxes("to", 1, 11, 2026),
        )
    )

    assert "Select a kind from the list" in unknown and "Latest transactions" not in unknown
    assert "The to date must be the same as or after the from date" in backwards


def test_the_journal_pages_with_a_cursor_that_keeps_its_filters(
    staff_web: StaffWeb, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(books, "PAGE_SIZE", 1)
    staff_web.sign_in("auditor")
    page = staff_web.get(f"/admin/books/journal?scheme={ledger.leisure['id']}")
    seen: list[str] = []
    while True:
        seen += re.findall(r"/admin/books/transactions/([0-9a-f-]+)", page.get_data(as_text=True))
        older = [link for link in links(page.get_data(as_text=True)) if "after=" in link]
        if not older:
            break
        assert f"scheme={ledger.leisure['id']}" in older[0]
        page = staff_web.get(older[0])

    assert seen == [ledger.refund_id, ledger.spend_id, ledger.issue_id, ledger.fund_id]


def test_a_transaction_shows_its_postings_its_content_hash_and_where_it_is_sealed(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")
    via_api = staff_web.context.read(lambda uow: uow.journal.get(ledger.refund_id))

    text = page_text(staff_web.get(f"/admin/books/transactions/{ledger.refund_id}"))

    assert f"Content hash (SHA-256) {via_api.content_hash} Matches its contents" in text
    assert f"Reverses {ledger.spend_id}" in text
    assert "0 outlet:" in text and "GBP -£12.50 -1250" in text
    assert "1 wallet:r1:leisure:main GBP £12.50 1250" in text
    assert "under the checkpoint of 6 transactions" in text
    spend = page_text(staff_web.get(f"/admin/books/transactions/{ledger.spend_id}"))
    assert f"Reversed by {ledger.refund_id}" in spend and "Outlet Riverside Leisure" in spend


def test_an_account_shows_its_history_newest_first_with_the_running_balance_page_after_page(
    staff_web: StaffWeb, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(books, "PAGE_SIZE", 2)
    staff_web.sign_in("auditor")
    path = f"/admin/books/accounts/{ledger.wallet_account_id}"

    first = staff_web.get(path)
    older = [link for link in links(first.get_data(as_text=True)) if "after=" in link]
    second = page_text(staff_web.get(older[0]))

    text = page_text(first)
    assert "wallet:r1:leisure:main" in text and "Balance now £30.00" in text
    assert "Reversal" in text and "£12.50 £30.00" in text and "-£12.50 £17.50" in text
    assert "Issue" in second and "£30.00 £30.00" in second and "Redeem" not in second


def test_checkpoints_show_their_verify_status_and_the_head_published_at_the_well_known_address(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")
    published = staff_web.client.get("/.well-known/clubcard-ledger").get_json()

    page = staff_web.get("/admin/books/checkpoints").get_data(as_text=True)

    shown = re.search(r'<code id="published-head">(.*?)</code>', page, re.S)
    assert shown is not None and json.loads(shown.group(1).replace("&#34;", '"')) == published
    text = page_text(staff_web.get("/admin/books/checkpoints"))
    assert "6 of 6 transactions are sealed" in text
    assert "Verified Signature: valid, by this ledger's key Frontier: rebuilds the root" in text


def test_a_checkpoint_whose_signature_or_frontier_was_altered_fails_its_check(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    key = staff_web.context.ledger_key
    head = staff_web.context.read(lambda uow: uow.audit.latest_checkpoint())
    other_root = "0" * 64

    assert checkpoint_status(head, key).ok
    forged = checkpoint_status(dataclasses.replace(head, root_hash=other_root), key)
    assert not forged.signature_valid and not forged.frontier_rebuilds_root
    assert not checkpoint_status(dataclasses.replace(head, frontier=(other_root,)), key).ok


def test_the_journal_downloads_are_the_same_export_as_the_api_in_csv_json_and_hledger(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")
    period = date_boxes("from", 2, 11, 2026) | date_boxes("to", 2, 11, 2026)

    downloads = {
        fmt: staff_web.client.get("/admin/books/journal/download", query_string={"format": fmt, **period})
        for fmt in ("csv", "json", "hledger")
    }

    assert all("attachment" in response.headers["Content-Disposition"] for response in downloads.values())
    assert len(_rows(downloads["csv"].get_data(as_text=True))) == 12  # six transactions of two postings
    document = downloads["json"].get_json()
    assert [tx["id"] for tx in document["data"]][2] == ledger.spend_id
    assert (
        document["from"] == "2026-11-01T23:59:59.999999Z" and document["to"] == "2026-11-02T23:59:59.999999Z"
    )
    assert "    scheme:leisure:budget    100.00 GBP\n" in downloads["hledger"].get_data(as_text=True)
    assert staff_web.get("/admin/books/journal/download?format=xlsx").status_code == 404


def test_hledger_balances_the_downloaded_journal_to_exactly_our_trial_balance(
    staff_web: StaffWeb, ledger: Ledger, tmp_path: Path
) -> None:
    hledger = shutil.which("hledger")
    if hledger is None:
        if os.environ.get("CLUBCARD_REQUIRE_POSTGRES") == "1":  # CI installs hledger: it must run there
            pytest.fail("hledger is not installed but CI must check the download with it")
        pytest.skip("hledger is not installed")
    staff_web.sign_in("auditor")
    journal = tmp_path / "clubcard.journal"
    journal.write_bytes(staff_web.get("/admin/books/journal/download?format=hledger").get_data())

    report = subprocess.run(
        [hledger, "-f", str(journal), "balance", "--flat", "-O", "csv"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    theirs = {row[0]: row[1] for row in csv.reader(io.StringIO(report)) if row and row[0] not in ("account",)}
    assert theirs.pop("total") == "0"
    ours = _rows(staff_web.get("/admin/books/trial-balance.csv").get_data(as_text=True))
    expected = {
        row["account_name"]: books_amount(int(row["balance_minor"]), row["unit"])
        for row in ours
        if row["account_id"]
    }
    assert theirs == expected and len(expected) == 6


def books_amount(amount_minor: int, unit: str) -> str:
    """How hledger prints one of our balances: 70.00 GBP, 510 MIN, 5 POINT."""
    if unit == "GBP":
        sign, magnitude = ("-" if amount_minor < 0 else ""), abs(amount_minor)
        return f"{sign}{magnitude // 100}.{magnitude % 100:02d} GBP"
    return f"{amount_minor} {'MIN' if unit == 'HOUR' else 'POINT'}"


def test_finance_and_admin_may_read_the_books_and_a_caseworker_or_scheme_manager_may_not(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    detail_pages = (
        f"/admin/books/transactions/{ledger.spend_id}",
        f"/admin/books/accounts/{ledger.payable_account_id}",
    )
    for role in ("finance", "admin", "caseworker", "scheme_manager"):
        staff_web.new_client()
        staff_web.sign_in(role)
        statuses = {staff_web.get(path).status_code for path in (*BOOKS_PAGES, *detail_pages)}
        assert statuses == ({200} if role in ("finance", "admin") else {403}), role


def test_an_unknown_transaction_account_or_cursor_is_a_page_not_found(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("auditor")

    for path in (
        "/admin/books/transactions/no-such-transaction",
        "/admin/books/accounts/no-such-account",
        "/admin/books/journal?after=no-such-transaction",
        "/admin/books/checkpoints?before=soon",
        "/admin/books/trial-balance?at=yesterday",
    ):
        response = staff_web.get(path)
        assert response.status_code == 404 and "Page not found" in page_text(response), path


def test_the_staff_log_shows_who_did_what_to_what_when_and_from_where(
    staff_web: StaffWeb, ledger: Ledger
) -> None:
    staff_web.sign_in("admin")
    staff_web.post_form(
        f"/admin/outlets/{ledger.outlet['id']}/edit",
        {"name": "Riverside Leisure Centre", "categories": "leisure"},
    )
    staff_web.new_client()
    staff_web.sign_in("auditor")

    text = page_text(staff_web.get("/admin/staff-log"))

    assert f"admin:admin outlet.update {ledger.outlet['id']} 127.0.0.1" in text
    assert '"name": "Riverside Leisure Centre"' in text and '"schemes": []' in text
    assert "auditor:auditor staff.sign-in staff-user:auditor 127.0.0.1" in text


def test_the_staff_log_filters_by_who_action_target_and_dates_and_pages_keeping_them(
    staff_web: StaffWeb, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff_web.sign_in("admin")
    staff_web.new_client()
    staff_web.sign_in("auditor")

    def actions(**query: object) -> list[str]:
        text = staff_web.client.get("/admin/staff-log", query_string=query).get_data(as_text=True)
        return re.findall(r'\?action=([a-z.-]+)">\1</a>', text)

    assert actions(actor="admin:admin") == ["staff.sign-in"]
    assert actions(action="outlet.create") == ["outlet.create"]
    assert actions(target="leisure") == ["scheme.create"]
    assert len(actions(**date_boxes("from", 2, 11, 2026))) == 5
    assert actions(**date_boxes("to", 1, 11, 2026)) == []
    monkeypatch.setattr(staff_log, "PAGE_SIZE", 1)
    first = staff_web.client.get("/admin/staff-log", query_string={"action": "staff.sign-in"})
    older = [link for link in links(first.get_data(as_text=True)) if "after=" in link]
    assert len(older) == 1 and "action=staff.sign-in" in older[0]
    second = staff_web.get(older[0]).get_data(as_text=True)
    assert re.findall(r'\?action=([a-z.-]+)">\1</a>', second) == ["staff.sign-in"]
    assert not [link for link in links(second) if "after=" in link]


def test_the_staff_log_is_for_auditors_and_admins_only(staff_web: StaffWeb) -> None:
    for role, status in (("caseworker", 403), ("finance", 403), ("scheme_manager", 403), ("admin", 200)):
        staff_web.new_client()
        staff_web.sign_in(role)
        assert staff_web.get("/admin/staff-log").status_code == status, role
