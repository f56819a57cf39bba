"""Residents, cards and scheme membership through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from io import BytesIO
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from ledger.cards.token import CardKeyring
from ledger.db.tables import personal_details, residents, staff_actions
from ledger.usecases.audit import check
from ledger.usecases.checkpoints import seal, verify
from tests.support.api import ApiDriver, assert_problem

RESIDENTS = "/api/v1/residents"


def _count(api: ApiDriver, table: Any) -> int:
    return int(
        api.context.read(lambda uow: uow.execute_now(select(func.count()).select_from(table)).scalar())
    )


def _keyring(api: ApiDriver) -> tuple[CardKeyring, list[str]]:
    published = api.call("GET", "/.well-known/clubcard-keys")  # public: no key
    assert published.status_code == 200
    keyring = CardKeyring()
    for key in published.json["keys"]:
        assert key["algorithm"] == "Ed25519"
        keyring.add(key["key_id"], base64.urlsafe_b64decode(key["public_key"] + "=="))
    return keyring, published.json["revoked_cards"]


def test_enrol_and_read_and_the_auditor_sees_the_pseudonym_only(api: ApiDriver) -> None:
    body = {
        "kind": "person",
        "name": "Ada Example",
        "date_of_birth": "2010-06-15",
        "postcode": "se1 7pb",
        "ward": "Riverside",
        "contact": "ada@example.org",
    }
    created = api.call("POST", RESIDENTS, "caseworker", json=body)
    assert created.status_code == 201
    resident_id = created.json["id"]
    assert str(uuid.UUID(resident_id)) == resident_id
    assert created.json["kind"] == "person"
    assert created.json["details"]["postcode"] == "SE1 7PB"

    read = api.call("GET", f"{RESIDENTS}/{resident_id}", "admin")
    assert read.status_code == 200
    assert read.json["details"]["name"] == "Ada Example"
    assert read.json["cards"] == [] and read.json["memberships"] == [] and read.json["wallets"] == []

    audited = api.call("GET", f"{RESIDENTS}/{resident_id}", "auditor")
    assert audited.status_code == 200
    assert audited.json["id"] == resident_id and audited.json["details"] is None
    assert "cards" not in audited.json
    assert "Ada" not in audited.get_data(as_text=True)

    for role in ("finance", "scheme_manager"):
        assert_problem(api.call("GET", f"{RESIDENTS}/{resident_id}", role), 403, "forbidden")
    assert_problem(api.call("POST", RESIDENTS, "auditor", json=body), 403, "forbidden")
    assert_problem(api.call("GET", f"{RESIDENTS}/{resident_id}"), 401, "unauthenticated")
    assert_problem(api.call("GET", f"{RESIDENTS}/{uuid.uuid4()}", "caseworker"), 404, "not-found")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "person", "name": "No Birthday"},
        {"kind": "person", "name": "Bad Date", "date_of_birth": "2010-13-01"},
        {"kind": "person", "name": "Future", "date_of_birth": "2030-01-01"},
        {"kind": "person", "name": "Timestamp", "date_of_birth": 1276560000},
        {"kind": "dog", "name": "Rex"},
        {"kind": "household", "name": ""},
        {"kind": "household", "name": 7},
        {"kind": "household", "name": "Extra", "nickname": "x"},
        {"kind": "household", "name": "Bad Postcode", "postcode": "<script>"},
        {"kind": "household", "name": "Nul\x00Byte"},
        {"kind": "household", "name": "Control", "ward": "\x07"},
        {"name": "No Kind"},
        [],
    ],
)
def test_bad_resident_input_is_refused_and_nothing_is_created(api: ApiDriver, body: Any) -> None:
    response = api.call("POST", RESIDENTS, "caseworker", json=body)
    assert_problem(response, 422, "validation")
    assert _count(api, residents) == 0 and _count(api, personal_details) == 0


def test_a_household_and_a_street_need_no_birth_date_and_a_retry_enrols_once(api: ApiDriver) -> None:
    street = api.resident(kind="collective", name="Acacia Avenue", born=None)
    headers = {"Idempotency-Key": "enrol-1"}
    body = {"kind": "household", "name": "No 4", "postcode": "SE1 7PB"}
    first = api.call("POST", RESIDENTS, "caseworker", json=body, headers=headers)
    again = api.call("POST", RESIDENTS, "caseworker", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"] != street
    changed = api.call("POST", RESIDENTS, "caseworker", json={**body, "name": "No 5"}, headers=headers)
    assert_problem(changed, 422, "idempotency-mismatch")
    assert _count(api, residents) == 2


def test_subject_access_export(api: ApiDriver) -> None:
    api.scheme("release", rules={"issuing": {"mode": "series"}}, funded=50_000)
    resident_id = api.resident(name="Bo Example", born="1990-01-02")
    assert api.member("release", resident_id, referral="probation ref 42").status_code == 201
    expires = api.clock.now() + dt.timedelta(days=30)
    issued = api.issue("release", resident_id, 5_000, category="accommodation", expires_at=expires)
    spent = api.spend("release", resident_id, 1_200)
    card = api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker").json

    exported = api.call("GET", f"{RESIDENTS}/{resident_id}/export", "caseworker")
    assert exported.status_code == 200
    data = exported.json
    assert data["details"]["name"] == "Bo Example" and data["details"]["date_of_birth"] == "1990-01-02"
    assert [m["scheme"] for m in data["memberships"]] == ["release"]
    assert data["memberships"][0]["referral"] == "probation ref 42"
    assert [c["number"] for c in data["cards"]] == [card["number"]]
    (wallet,) = data["wallets"]
    assert wallet["scheme"] == "release" and wallet["balance_minor"] == 3_800
    (lot,) = wallet["lots"]
    assert lot["category"] == "accommodation" and lot["balance_minor"] == 3_800
    assert dt.datetime.fromisoformat(lot["expires_at"]) == expires
    moves = [(t["id"], t["kind"], t["amount_minor"], t["scheme"]) for t in data["transactions"]]
    assert moves == [
        (issued.transaction_id, "issue", 5_000, "release"),
        (spent.transaction_id, "redeem", -1_200, "release"),
    ]
    assert data["transactions_truncated"] is False
    assert_problem(api.call("GET", f"{RESIDENTS}/{resident_id}/export", "auditor"), 403, "forbidden")
    actions = api.context.read(lambda uow: uow.execute_now(select(staff_actions.c.action)).scalars().all())
    assert "resident.export" in actions


def test_erasure_keeps_the_ledger_valid_and_the_balance(api: ApiDriver) -> None:
    api.scheme("leisure", funded=10_000)
    resident_id = api.resident(name="Cy Example")
    assert api.member("leisure", resident_id, referral="school").status_code == 201
    api.issue("leisure", resident_id, 2_500)
    api.spend("leisure", resident_id, 500)
    api.context.write(lambda uow: seal(uow, api.context.ledger_key, api.clock.now()))
    before = api.wallet(resident_id, "leisure")
    path = f"{RESIDENTS}/{resident_id}/personal-data"

    assert_problem(api.call("DELETE", path, "caseworker"), 403, "forbidden")
    erased = api.call("DELETE", path, "admin")
    assert erased.status_code == 204 and erased.get_data() == b""
    assert_problem(api.call("DELETE", path, "admin"), 404, "not-found")

    read = api.call("GET", f"{RESIDENTS}/{resident_id}", "caseworker").json
    assert read["details"] is None and read["erased_at"] is not None
    assert read["memberships"][0]["referral"] is None
    assert read["wallets"][0]["balance_minor"] == before == 2_000
    assert api.wallet(resident_id, "leisure") == before
    assert _count(api, personal_details) == 0
    assert api.context.read(check).ok
    report = api.context.read(lambda uow: verify(uow, {api.context.ledger_key.key_id}))
    assert report.ok and report.transactions_checked == 3
    exported = api.call("GET", f"{RESIDENTS}/{resident_id}/export", "admin").json
    assert exported["details"] is None and len(exported["transactions"]) == 2
    api.scheme("other")
    assert_problem(api.member("other", resident_id), 422, "not-eligible")
    card = api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker")
    assert_problem(card, 409, "conflict")


def test_a_card_decodes_to_a_token_the_published_keys_verify(api: ApiDriver) -> None:
    api.scheme("leisure")
    resident_id = api.resident()
    assert api.member("leisure", resident_id).status_code == 201
    issued = api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker")
    assert issued.status_code == 201
    card = issued.json
    assert card["resident_id"] == resident_id and card["qr_png_url"].endswith("/qr.png")
    assert_problem(api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "admin"), 409, "conflict")

    png = api.call("GET", card["qr_png_url"], "caseworker")
    assert png.status_code == 200 and png.content_type == "image/png"
    (barcode,) = zxingcpp.read_barcodes(
        Image.open(BytesIO(png.get_data())), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert barcode.text == card["token"]
    keyring, revoked = _keyring(api)
    assert keyring.verify(barcode.text).card_number == card["number"]
    assert revoked == []

    svg = api.call("GET", card["qr_svg_url"], "admin")
    assert svg.status_code == 200 and svg.content_type.startswith("image/svg+xml")
    assert b"<svg" in svg.get_data()
    pdf = api.call("GET", card["card_pdf_url"], "caseworker")
    assert pdf.status_code == 200 and pdf.content_type == "application/pdf"
    assert pdf.get_data().startswith(b"%PDF")
    assert_problem(api.call("GET", card["qr_png_url"], "auditor"), 403, "forbidden")
    assert_problem(api.call("GET", "/api/v1/cards/CC-0000-0000-0000-0000/qr.png", "admin"), 404, "not-found")
    assert_problem(api.call("POST", f"{RESIDENTS}/{uuid.uuid4()}/cards", "admin"), 404, "not-found")


def test_a_blocked_card_is_revoked_and_the_balance_stays(api: ApiDriver) -> None:
    api.scheme("leisure", funded=5_000)
    resident_id = api.resident()
    api.issue("leisure", resident_id, 1_000)
    card = api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker").json
    block = f"/api/v1/cards/{card['number']}/block"

    blocked = api.call("POST", block, "caseworker")
    assert blocked.status_code == 200
    assert blocked.json["blocked"] is True and blocked.json["replaced_by"] is None
    assert_problem(api.call("POST", block, "caseworker"), 409, "conflict")
    assert_problem(api.call("GET", card["qr_png_url"], "caseworker"), 403, "card-blocked")
    _, revoked = _keyring(api)
    assert revoked == [card["number"]]
    read = api.call("GET", f"{RESIDENTS}/{resident_id}", "caseworker").json
    assert read["cards"][0]["blocked"] is True
    assert read["wallets"][0]["balance_minor"] == 1_000 == api.wallet(resident_id, "leisure")


def test_replacing_a_lost_card_blocks_it_and_issues_a_new_one(api: ApiDriver) -> None:
    api.scheme("leisure", funded=5_000)
    resident_id = api.resident()
    api.issue("leisure", resident_id, 1_500)
    old = api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker").json
    replace = f"/api/v1/cards/{old['number']}/replace"

    new = api.call("POST", replace, "admin")
    assert new.status_code == 201
    assert new.json["number"] != old["number"] and new.json["replaces"] == old["number"]
    keyring, revoked = _keyring(api)
    assert keyring.verify(new.json["token"]).card_number == new.json["number"]
    assert revoked == [old["number"]]
    assert_problem(api.call("POST", replace, "admin"), 409, "conflict")

    cards = {c["number"]: c for c in api.call("GET", f"{RESIDENTS}/{resident_id}", "admin").json["cards"]}
    assert cards[old["number"]]["blocked"] is True
    assert cards[old["number"]]["replaced_by"] == new.json["number"]
    assert cards[new.json["number"]]["blocked"] is False
    assert api.wallet(resident_id, "leisure") == 1_500


def test_eligibility_refusals_name_the_reason(api: ApiDriver) -> None:
    api.scheme("teen", rules={"eligibility": {"min_age": 13, "max_age": 19}})
    api.scheme("riverside", rules={"eligibility": {"wards": ["Riverside"], "postcode_prefixes": ["SE1"]}})
    api.scheme("release", rules={"eligibility": {"referral_required": True}})
    resident_id = api.resident(born="2010-06-15", ward="riverside", postcode="se17pb")
    elsewhere = api.resident(born="1980-01-01", ward="Hillside", postcode="SE1 1AA")
    street = api.resident(kind="collective", name="Acacia Avenue")

    young = assert_problem(api.member("teen", resident_id, as_of="2023-06-14"), 422, "not-eligible")
    assert "aged 12 on 2023-06-14" in young["detail"]
    assert api.member("teen", resident_id, as_of="2023-06-15").status_code == 201
    assert_problem(api.member("teen", resident_id), 409, "conflict")
    assert_problem(api.member("teen", elsewhere), 422, "not-eligible")
    assert_problem(api.member("teen", street), 422, "not-eligible")

    assert api.member("riverside", resident_id).status_code == 201
    ward = assert_problem(api.member("riverside", elsewhere), 422, "not-eligible")
    assert "ward" in ward["detail"]

    assert_problem(api.member("release", elsewhere), 422, "not-eligible")
    assert_problem(api.member("release", elsewhere, referral="  "), 422, "not-eligible")
    enrolled = api.member("release", elsewhere, referral="probation")
    assert enrolled.status_code == 201 and enrolled.json["rule_version"] == 1


def test_membership_input_roles_and_listing(api: ApiDriver) -> None:
    api.scheme("recycling", rules={"eligibility": {"resident_kinds": ["household", "collective"]}})
    street = api.resident(kind="collective", name="Acacia Avenue")
    household = api.resident(kind="household", name="No 4")
    members = "/api/v1/schemes/recycling/members"
    for bad in (
        {"resident_id": "not-a-uuid"},
        {"resident_id": household, "as_of": "yesterday"},
        {"resident_id": household, "colour": "red"},
        {"resident_id": str(uuid.uuid4())},
        {"resident_id": household, "collective_id": household},
    ):
        assert_problem(api.call("POST", members, "caseworker", json=bad), 422, "validation")
    assert_problem(api.call("POST", members, "admin", json={"resident_id": street}), 403, "forbidden")
    assert_problem(api.member("nope", household), 404, "not-found")

    assert api.member("recycling", street).status_code == 201
    joined = api.member("recycling", household, collective_id=street)
    assert joined.status_code == 201 and joined.json["collective_id"] == street

    first = api.call("GET", f"{members}?limit=1", "auditor")
    assert first.status_code == 200 and first.json["has_more"] is True
    (row,) = first.json["data"]
    rest = api.call("GET", f"{members}?limit=1&starting_after={row['resident_id']}", "finance").json
    assert rest["has_more"] is False
    assert {row["resident_id"], rest["data"][0]["resident_id"]} == {street, household}
    assert "referral" not in row
