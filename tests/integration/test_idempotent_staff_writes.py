"""Staff writes honour an Idempotency-Key: a retry with the same key and body gets the original status and
body and changes nothing more; the same key with another body is 422. Documented exactly where honoured.
On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from werkzeug.test import TestResponse

from api.spec import idempotency_treatment
from ledger.cards.token import CardKeyring
from ledger.db.tables import api_keys, cards, idempotency_keys, outlets, scheme_versions, staff_actions
from ledger.usecases.api_keys import create_key
from tests.support.api import ApiDriver, assert_problem

RESIDENTS = "/api/v1/residents"


def _send(api: ApiDriver, method: str, path: str, role: str, body: Any, key: str) -> TestResponse:
    return api.call(method, path, role, json=body, headers={"Idempotency-Key": key})


def _retried(
    api: ApiDriver, method: str, path: str, role: str, body: Any, other_body: Any, status: int
) -> dict[str, Any]:
    """Send a write twice under one key (same answer), then with another body (422); the first answer."""
    key = api.idempotency_key()
    first = _send(api, method, path, role, body, key)
    assert first.status_code == status, first.get_data(as_text=True)
    again = _send(api, method, path, role, body, f'"{key}"')  # quoted or bare: the same key
    assert again.status_code == status and again.get_data() == first.get_data()
    assert_problem(_send(api, method, path, role, other_body, key), 422, "idempotency-mismatch")
    return dict(first.json)


def _count(api: ApiDriver, table: Any, *where: Any) -> int:
    query = select(func.count()).select_from(table).where(*where)
    return int(api.context.read(lambda uow: uow.execute_now(query).scalar()))


def _stored_results(api: ApiDriver) -> str:
    rows = api.context.read(lambda uow: uow.execute_now(select(idempotency_keys.c.result_json)).scalars())
    return "\n".join(rows)


def _card(api: ApiDriver) -> dict[str, Any]:
    resident_id = api.resident()
    issued = api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker")
    assert issued.status_code == 201
    return dict(issued.json)


def test_a_rule_change_retried_with_its_key_makes_one_new_version(api: ApiDriver) -> None:
    api.scheme("leisure")
    body = {"rules": {"spending": {"outlet_categories": ["leisure"]}}}
    other = {"rules": {"spending": {"outlet_categories": ["library"]}}}
    first = _retried(api, "PATCH", "/api/v1/schemes/leisure", "scheme_manager", body, other, 200)
    assert first["version"] == 2
    assert api.call("GET", "/api/v1/schemes/leisure", "auditor").json["version"] == 2
    assert _count(api, scheme_versions) == 2
    assert _count(api, staff_actions, staff_actions.c.action == "scheme.update") == 1
    later = api.call("PATCH", "/api/v1/schemes/leisure", "admin", json=body)
    assert later.status_code == 200 and later.json["version"] == 3


def test_a_scheme_created_twice_with_one_key_is_created_once(api: ApiDriver) -> None:
    body = {"slug": "time-bank", "name": "Time bank", "unit": "HOUR", "rules": {}}
    first = _retried(api, "POST", "/api/v1/schemes", "admin", body, {**body, "name": "Other"}, 201)
    assert first["slug"] == "time-bank" and first["budget_balance_minor"] == 0
    assert_problem(api.call("POST", "/api/v1/schemes", "admin", json=body), 409, "conflict")
    assert _count(api, scheme_versions) == 1


def test_a_card_replacement_retried_with_its_key_gives_the_same_new_card(api: ApiDriver) -> None:
    old = _card(api)
    path = f"/api/v1/cards/{old['number']}/replace"
    other_path = f"/api/v1/cards/{_card(api)['number']}/replace"
    key = api.idempotency_key()
    first = _send(api, "POST", path, "caseworker", None, key)
    again = _send(api, "POST", path, "caseworker", None, key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and first.json["replaces"] == old["number"]
    assert_problem(_send(api, "POST", other_path, "caseworker", None, key), 422, "idempotency-mismatch")
    assert _count(api, cards, cards.c.resident_id == old["resident_id"]) == 2
    keyring = CardKeyring({api.context.card_key.key_id: api.context.card_key.public_key_bytes()})
    assert keyring.verify(again.json["token"]).card_number == first.json["number"]
    assert first.json["token"] not in _stored_results(api)
    assert_problem(api.call("POST", path, "caseworker"), 409, "conflict")


def test_a_card_block_retried_with_its_key_gives_the_first_answer(api: ApiDriver) -> None:
    number = _card(api)["number"]
    path = f"/api/v1/cards/{number}/block"
    other_path = f"/api/v1/cards/{_card(api)['number']}/block"
    key = api.idempotency_key()
    first = _send(api, "POST", path, "admin", None, key)
    again = _send(api, "POST", path, "admin", None, key)
    assert first.status_code == again.status_code == 200 and again.json == first.json
    assert first.json["status"] == "blocked" and first.json["blocked"] is True
    assert_problem(_send(api, "POST", other_path, "admin", None, key), 422, "idempotency-mismatch")
    assert_problem(api.call("POST", path, "admin"), 409, "conflict")
    assert _count(api, staff_actions, staff_actions.c.action == "card.block") == 1


def test_a_card_issue_retried_with_its_key_gives_the_same_card(api: ApiDriver) -> None:
    resident_id, other_id = api.resident(), api.resident()
    key = api.idempotency_key()
    first = _send(api, "POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker", None, key)
    again = _send(api, "POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker", None, key)
    assert first.status_code == again.status_code == 201 and again.json == first.json
    mismatch = _send(api, "POST", f"{RESIDENTS}/{other_id}/cards", "caseworker", None, key)
    assert_problem(mismatch, 422, "idempotency-mismatch")
    assert _count(api, cards, cards.c.resident_id == resident_id) == 1
    assert first.json["token"] not in _stored_results(api)


def test_a_resident_enrolment_retried_with_its_key_enrols_once(api: ApiDriver) -> None:
    body = {"kind": "person", "name": "Gil Example", "date_of_birth": "1999-09-09"}
    first = _retried(api, "POST", RESIDENTS, "caseworker", body, {**body, "name": "Gil Other"}, 201)
    found = api.call("GET", f"{RESIDENTS}?name=Gil Example&date_of_birth=1999-09-09", "caseworker").json
    assert [resident["id"] for resident in found["data"]] == [first["id"]]
    assert "Gil" not in _stored_results(api)


def test_a_membership_retried_with_its_key_gives_the_first_answer_not_409(api: ApiDriver) -> None:
    api.scheme("release", rules={"eligibility": {"referral_required": True}})
    resident_id = api.resident()
    body = {"resident_id": resident_id, "referral": "probation ref 7"}
    path = "/api/v1/schemes/release/members"
    first = _retried(api, "POST", path, "caseworker", body, {**body, "referral": "other"}, 201)
    assert first["referral"] == "probation ref 7" and first["eligible_on"] == "2026-11-04"
    assert_problem(api.member("release", resident_id, referral="probation ref 7"), 409, "conflict")
    assert "probation" not in _stored_results(api)


def test_an_outlet_created_twice_with_one_key_is_created_once(api: ApiDriver) -> None:
    api.scheme("leisure")
    body = {"name": "Pool", "categories": ["leisure"], "schemes": ["leisure"]}
    first = _retried(api, "POST", "/api/v1/outlets", "admin", body, {**body, "name": "Gym"}, 201)
    assert first["name"] == "Pool"
    assert _count(api, outlets) == 1


def test_an_outlet_change_retried_with_its_key_is_made_and_logged_once(api: ApiDriver) -> None:
    api.scheme("leisure")
    created = api.call("POST", "/api/v1/outlets", "admin", json={"name": "Pool"}).json
    path = f"/api/v1/outlets/{created['id']}"
    first = _retried(api, "PATCH", path, "admin", {"schemes": ["leisure"]}, {"schemes": []}, 200)
    assert first["schemes"] == ["leisure"]
    assert _count(api, staff_actions, staff_actions.c.action == "outlet.update") == 1


def test_a_refused_write_keeps_no_answer_under_its_key(api: ApiDriver) -> None:
    created = api.call("POST", "/api/v1/outlets", "admin", json={"name": "Pool"}).json
    path = f"/api/v1/outlets/{created['id']}"
    key = api.idempotency_key()
    assert_problem(_send(api, "PATCH", path, "admin", {"schemes": ["leisure"]}, key), 422, "validation")
    api.scheme("leisure")
    fixed = _send(api, "PATCH", path, "admin", {"schemes": ["leisure"]}, key)
    assert fixed.status_code == 200 and fixed.json["schemes"] == ["leisure"]


def test_a_kiosk_key_is_never_made_twice_and_its_secret_never_kept_for_a_retry(api: ApiDriver) -> None:
    outlet = api.call("POST", "/api/v1/outlets", "admin", json={"name": "Pool"}).json
    path = f"/api/v1/outlets/{outlet['id']}/devices"
    key = api.idempotency_key()
    made = _send(api, "POST", path, "admin", {"label": "front desk"}, key)
    assert made.status_code == 201
    retry = assert_problem(_send(api, "POST", path, "admin", {"label": "front desk"}, key), 409, "conflict")
    assert made.json["id"] in retry["detail"] and made.json["key"] not in retry["detail"]
    assert_problem(
        _send(api, "POST", path, "admin", {"label": "back desk"}, key), 422, "idempotency-mismatch"
    )
    assert _count(api, api_keys, api_keys.c.role == "device") == 1
    assert made.json["key"] not in _stored_results(api)


def test_an_idempotency_key_belongs_to_the_api_key_that_sent_it(api: ApiDriver) -> None:
    other_admin = api.context.write(
        lambda uow: create_key(uow, role="admin", outlet_id=None, label="second admin", now=api.clock.now())
    ).secret
    headers = {"Idempotency-Key": "shared-key"}
    first = api.call("POST", "/api/v1/outlets", "admin", json={"name": "Pool"}, headers=headers)
    second = api.call("POST", "/api/v1/outlets", other_admin, json={"name": "Gym"}, headers=headers)
    assert first.status_code == second.status_code == 201 and first.json["id"] != second.json["id"]


def test_the_openapi_document_shows_the_key_exactly_where_a_write_honours_it(api: ApiDriver) -> None:
    document = api.call("GET", "/api/openapi.json").json
    for rule in api.app.url_map.iter_rules():
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}:
            if rule.rule.startswith("/api/v1"):
                path = rule.rule.replace("<", "{").replace(">", "}")
                assert idempotency_treatment(method, path) is not None, f"{method} {path}: classify it"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            headers = [p for p in operation.get("parameters", []) if p.get("name") == "Idempotency-Key"]
            treatment = idempotency_treatment(method, path)
            if treatment in ("required", "optional", "refuses-replay"):
                (header,) = headers
                assert header["in"] == "header" and header["required"] is (treatment == "required")
            else:
                assert headers == [], f"{method} {path} does not honour an Idempotency-Key"
    assert idempotency_treatment("patch", "/api/v1/schemes/{slug}") == "optional"
    assert idempotency_treatment("post", "/api/v1/outlets/{id}/devices") == "refuses-replay"
    assert idempotency_treatment("post", "/api/v1/redemptions") == "required"
