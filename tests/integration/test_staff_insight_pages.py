"""The insight pages of the staff UI: per scheme figures overall and by ward and age band, suppression of
figures from fewer than 10 people (and of the figure that would give them away), CSV downloads, the ward
list upload (in the staff log), and who may see what. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest

from tests.integration.staff_insight_support import WARDS_CSV, insight_world
from tests.integration.staff_oversight_support import staff_log, world_of
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

INSIGHT = "/admin/insight"
SCHEME = "/admin/insight/schemes/leisure"
WARDS = "/admin/insight/wards"
TABLE_KEYS = ("uptake", "value", "first-spend", "outlet-weeks", "hours", "weekdays")


def _upload(web: StaffWeb, text: str) -> object:
    upload = (io.BytesIO(text.encode()), "wards.csv")
    return web.post_form(WARDS, {"wards_file": upload}, form_page=WARDS)


def _csv_rows(web: StaffWeb, path: str) -> list[list[str]]:
    response = web.get(path)
    assert response.status_code == 200, page_text(response)
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_a_scheme_managers_ward_upload_replaces_the_list_and_is_in_the_staff_log(staff_web: StaffWeb) -> None:
    staff_web.sign_in("scheme_manager")

    uploaded = _upload(staff_web, WARDS_CSV)

    assert uploaded.status_code == 302  # type: ignore[attr-defined]
    page = page_text(staff_web.get(WARDS))
    assert "Ward list uploaded: 4 wards" in page
    assert "Riverside 2 Northgate 4 Castle 7 Eastfield 9" in page
    assert [entry["detail"]["wards"] for entry in staff_log(staff_web, "insight.wards-uploaded")] == [4]


def test_a_ward_list_with_a_decile_out_of_range_is_refused_with_its_line(staff_web: StaffWeb) -> None:
    staff_web.sign_in("admin")

    refused = _upload(staff_web, "ward,deprivation_decile\nRiverside,2\nCastle,11\n")

    assert refused.status_code == 200  # type: ignore[attr-defined]
    text = page_text(refused)  # type: ignore[arg-type]
    assert "There is a problem" in text
    assert "Line 3: the deprivation decile of Castle must be a whole number from 1 to 10" in text
    assert staff_log(staff_web, "insight.wards-uploaded") == []


def test_by_ward_the_single_member_and_the_next_smallest_ward_are_shown_as_fewer_than_10(
    staff_web: StaffWeb,
) -> None:
    insight_world(world_of(staff_web))
    staff_web.sign_in("scheme_manager")
    _upload(staff_web, WARDS_CSV)

    page = page_text(staff_web.get(f"{SCHEME}?by=ward"))

    assert "Riverside 2 12 12 12" in page
    assert "Northgate 4 fewer than 10 fewer than 10 fewer than 10" in page
    assert "Castle 7 fewer than 10 fewer than 10 fewer than 10" in page
    assert "All members 24 24 24" in page


def test_the_ward_csv_download_suppresses_the_same_cells_and_no_ward_can_be_differenced(
    staff_web: StaffWeb,
) -> None:
    insight_world(world_of(staff_web))
    staff_web.sign_in("finance")

    rows = _csv_rows(staff_web, f"{SCHEME}/uptake.csv?by=ward")

    assert rows[0] == ["ward", "Deprivation decile", "Eligible", "Enrolled", "Active in the last 30 days"]
    by_ward = {row[0]: row[2:] for row in rows[1:]}
    assert by_ward["Castle"] == ["fewer than 10"] * 3
    assert by_ward["Northgate"] == ["fewer than 10"] * 3
    assert by_ward["All members"] == ["24", "24", "24"]
    visible = sum(int(row[0]) for ward, row in by_ward.items() if ward != "All members" and row[0].isdigit())
    assert 24 - visible == 12  # what differencing reveals is two wards together, never the one resident


def test_every_table_of_a_scheme_downloads_as_csv(staff_web: StaffWeb) -> None:
    insight_world(world_of(staff_web))
    staff_web.sign_in("auditor")

    page = page_text(staff_web.get(SCHEME))
    assert "Value issued and where it went" in page
    assert "All members £240.00 £96.00 fewer than 10 £144.00" in page
    assert "All redemptions 24 £96.00" in page
    assert "08:00 to 09:00 fewer than 10 fewer than 10 09:00 to 10:00 24 £96.00" in page
    for key in TABLE_KEYS:
        rows = _csv_rows(staff_web, f"{SCHEME}/{key}.csv")
        assert len(rows) >= 2, key


def test_by_age_band_every_member_is_in_one_band(staff_web: StaffWeb) -> None:
    insight_world(world_of(staff_web))
    staff_web.sign_in("admin")

    rows = _csv_rows(staff_web, f"{SCHEME}/uptake.csv?by=age")

    assert rows[1] == ["35 to 64", "24", "24", "24"]
    assert rows[-1] == ["All members", "24", "24", "24"]


@pytest.mark.parametrize("role", ["admin", "scheme_manager", "finance", "auditor"])
def test_staff_who_may_see_insight_find_it_in_the_navigation(staff_web: StaffWeb, role: str) -> None:
    staff_web.sign_in(role)

    dashboard = staff_web.get("/admin/")

    assert 'href="/admin/insight"' in dashboard.get_data(as_text=True)
    assert staff_web.get(INSIGHT).status_code == 200


def test_a_caseworker_may_not_see_insight(staff_web: StaffWeb) -> None:
    staff_web.sign_in("caseworker")

    assert staff_web.get(INSIGHT).status_code == 403
    assert staff_web.get(f"{SCHEME}/uptake.csv").status_code == 403
    assert 'href="/admin/insight"' not in staff_web.get("/admin/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["auditor", "finance"])
def test_who_may_only_read_sees_no_upload_form_and_cannot_upload(staff_web: StaffWeb, role: str) -> None:
    staff_web.sign_in(role)

    page = staff_web.get(WARDS).get_data(as_text=True)
    refused = _upload(staff_web, WARDS_CSV)

    assert "Upload ward list" not in page
    assert 'type="file"' not in page
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert staff_log(staff_web, "insight.wards-uploaded") == []


def test_an_unknown_grouping_or_table_is_not_found(staff_web: StaffWeb) -> None:
    insight_world(world_of(staff_web))
    staff_web.sign_in("admin")

    assert staff_web.get(f"{SCHEME}?by=postcode").status_code == 404
    assert staff_web.get(f"{SCHEME}/names.csv").status_code == 404
    assert staff_web.get("/admin/insight/schemes/nothing").status_code == 404
