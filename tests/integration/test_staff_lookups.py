"""Staff find residents and cards, and every staff action lands in the staff log with who, what and from
where; auditors and admins read the log, filtered and paged. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, select, text
from werkzeug.test import TestResponse

from ledger.cards.token import new_card_number
from ledger.db.bootstrap import alembic_config, migrate
from ledger.db.people_repository import PeopleRepository
from ledger.db.tables import residents, staff_actions
from ledger.usecases.api_keys import authenticate
from tests.support.api import ApiDriver, assert_problem

RESIDENTS = "/api/v1/residents"
STAFF_LOG = "/api/v1/audit/staff-log"
MIGRATION = "0005_staff_log_origin"


def _card(api: ApiDriver, resident_id: str) -> dict[str, Any]:
    issued = api.call("POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker")
    assert issued.status_code == 201, issued.json
    return dict(issued.json)


def _from(api: ApiDriver, address: str, method: str, path: str, role: str, **body: Any) -> TestResponse:
    """A request from a given client address."""
    headers = {"Authorization": f"Bearer {api.staff(role)}"}
    return api.client.open(
        path, method=method, json=body or None, headers=headers, environ_base={"REMOTE_ADDR": address}
    )


def _log(api: ApiDriver, query: str = "", role: str = "auditor") -> list[dict[str, Any]]:
    response = api.call("GET", f"{STAFF_LOG}?limit=100{query}", role)
    assert response.status_code == 200, response.json
    return list(response.json["data"])


def _key_id(api: ApiDriver, role: str) -> str:
    principal = api.context.read(lambda uow: authenticate(uow, api.staff(role)))
    assert principal is not None
    return str(principal.key_id)


def test_a_caseworker_finds_a_resident_by_any_of_their_card_numbers(api: ApiDriver) -> None:
    resident_id = api.resident(name="Ada Example")
    api.resident(name="Someone Else")
    old = _card(api, resident_id)
    typed = old["number"].lower().replace("-", " ")

    found = api.call("GET", f"{RESIDENTS}?card_number={typed}", "caseworker")
    assert found.status_code == 200
    assert found.json["has_more"] is False
    (match,) = found.json["data"]
    assert match["id"] == resident_id and match["details"]["name"] == "Ada Example"
    assert [card["number"] for card in match["cards"]] == [old["number"]]

    new = api.call("POST", f"/api/v1/cards/{old['number']}/replace", "caseworker").json
    for number in (old["number"], new["number"]):
        again = api.call("GET", f"{RESIDENTS}?card_number={number}", "admin").json
        assert [m["id"] for m in again["data"]] == [resident_id]


def test_a_card_number_nobody_holds_finds_no_one_and_a_typo_is_refused(api: ApiDriver) -> None:
    number = _card(api, api.resident())["number"]
    unused = api.call("GET", f"{RESIDENTS}?card_number={new_card_number()}", "caseworker")
    assert unused.status_code == 200 and unused.json == {"data": [], "has_more": False}
    typo = number[:-1] + ("X" if number[-1] != "X" else "Y")
    body = assert_problem(api.call("GET", f"{RESIDENTS}?card_number={typo}", "caseworker"), 422, "validation")
    assert "card_number" in body["detail"]
    assert_problem(api.call("GET", f"{RESIDENTS}?card_number=CC-0000", "caseworker"), 422, "validation")


def test_a_resident_is_found_by_exact_name_and_date_of_birth_only(api: ApiDriver) -> None:
    ada = api.resident(name="Ada  Lovelace", born="2010-06-15")
    api.resident(name="Ada Lovelace", born="2011-06-15")
    api.resident(name="Ada Lovelace-Byron", born="2010-06-15")

    for typed in ("Ada Lovelace", "  ada   LOVELACE ", "ADA LOVELACE"):
        found = api.call("GET", f"{RESIDENTS}?name={typed}&date_of_birth=2010-06-15", "caseworker")
        assert found.status_code == 200, found.json
        assert [m["id"] for m in found.json["data"]] == [ada] and found.json["has_more"] is False
    for partial in ("Ada", "Lovelace", "Ada Love", "Ada%"):
        found = api.call("GET", f"{RESIDENTS}?name={partial}&date_of_birth=2010-06-15", "admin")
        assert found.status_code == 200 and found.json["data"] == []
    nobody = api.call("GET", f"{RESIDENTS}?name=Ada Lovelace&date_of_birth=2010-06-16", "admin")
    assert nobody.json == {"data": [], "has_more": False}


def test_a_look_up_needs_a_card_number_or_a_name_with_a_date_of_birth(api: ApiDriver) -> None:
    number = _card(api, api.resident())["number"]
    for query in (
        "",
        "?name=Ada Example",
        "?date_of_birth=2010-06-15",
        f"?card_number={number}&name=Ada Example&date_of_birth=2010-06-15",
        "?name=Ada Example&date_of_birth=15/06/2010",
        "?name=&date_of_birth=2010-06-15",
        "?name=Ada Example&date_of_birth=2010-06-15&limit=100",
    ):
        assert_problem(api.call("GET", f"{RESIDENTS}{query}", "caseworker"), 422, "validation")
    for role in ("auditor", "finance", "scheme_manager"):
        assert_problem(api.call("GET", f"{RESIDENTS}?card_number={number}", role), 403, "forbidden")
    assert_problem(api.call("GET", f"{RESIDENTS}?card_number={number}"), 401, "unauthenticated")
    looked_up = api.context.read(
        lambda uow: uow.execute_now(
            select(staff_actions.c.id).where(staff_actions.c.action == "resident.lookup")
        ).all()
    )
    assert looked_up == []


def test_an_erased_resident_is_never_found_by_name_but_their_card_still_names_the_pseudonym(
    api: ApiDriver,
) -> None:
    resident_id = api.resident(name="Cy Example", born="1990-01-02")
    number = _card(api, resident_id)["number"]
    assert api.call("DELETE", f"{RESIDENTS}/{resident_id}/personal-data", "admin").status_code == 204

    by_name = api.call("GET", f"{RESIDENTS}?name=Cy Example&date_of_birth=1990-01-02", "caseworker")
    assert by_name.json == {"data": [], "has_more": False}
    (match,) = api.call("GET", f"{RESIDENTS}?card_number={number}", "caseworker").json["data"]
    assert match["id"] == resident_id and match["details"] is None and match["erased_at"] is not None


def test_each_look_up_is_in_the_staff_log_with_what_it_found_and_never_the_name(api: ApiDriver) -> None:
    resident_id = api.resident(name="Dee Example", born="1985-03-04")
    number = _card(api, resident_id)["number"]
    by_name = f"{RESIDENTS}?name=Dee Example&date_of_birth=1985-03-04"
    assert _from(api, "198.51.100.23", "GET", by_name, "caseworker").status_code == 200
    api.clock.advance(dt.timedelta(seconds=1))
    assert _from(api, "2001:db8::7", "GET", f"{RESIDENTS}?card_number={number}", "admin").status_code == 200
    api.clock.advance(dt.timedelta(seconds=1))
    nobody = f"{RESIDENTS}?name=Nobody Here&date_of_birth=1985-03-04"
    assert _from(api, "198.51.100.23", "GET", nobody, "caseworker").status_code == 200

    response = api.call("GET", f"{STAFF_LOG}?action=resident.lookup", "auditor")
    assert response.status_code == 200
    entries = response.json["data"]
    assert [(e["target"], e["detail"], e["key_id"], e["remote_address"]) for e in entries] == [
        (
            "name and date of birth",
            {"by": "name and date of birth", "found": []},
            _key_id(api, "caseworker"),
            "198.51.100.23",
        ),
        (number, {"by": "card number", "found": [resident_id]}, _key_id(api, "admin"), "2001:db8::7"),
        (
            "name and date of birth",
            {"by": "name and date of birth", "found": [resident_id]},
            _key_id(api, "caseworker"),
            "198.51.100.23",
        ),
    ]
    logged = api.context.read(lambda uow: uow.execute_now(select(staff_actions)).all())
    assert not [row for row in logged if "Dee" in row.detail_json or "Nobody" in row.detail_json]
    assert "Dee" not in response.get_data(as_text=True)


def test_a_cards_status_resident_and_replacement_are_shown_and_the_look_up_logged(api: ApiDriver) -> None:
    resident_id = api.resident()
    number = _card(api, resident_id)["number"]
    path = f"/api/v1/cards/{number}"

    active = api.call("GET", path, "caseworker")
    assert active.status_code == 200
    assert active.json["status"] == "active" and active.json["resident_id"] == resident_id
    assert active.json["blocked_at"] is None and active.json["replaced_by"] is None
    assert "token" not in active.json
    assert api.call("POST", f"{path}/block", "caseworker").status_code == 200
    blocked = api.call("GET", path.lower(), "admin").json
    assert blocked["status"] == "blocked" and blocked["blocked_at"] is not None
    new = api.call("POST", f"{path}/replace", "caseworker").json
    replaced = api.call("GET", path, "caseworker").json
    assert replaced["status"] == "replaced" and replaced["replaced_by"] == new["number"]
    assert replaced["issued_at"] == active.json["issued_at"]
    assert api.call("GET", f"/api/v1/cards/{new['number']}", "admin").json["status"] == "active"

    assert_problem(api.call("GET", "/api/v1/cards/CC-0000-0000-0000-0000", "admin"), 404, "not-found")
    assert_problem(api.call("GET", path, "auditor"), 403, "forbidden")
    looked_up = _log(api, f"&action=card.lookup&target={number}")
    assert len(looked_up) == 3 and {e["detail"]["resident_id"] for e in looked_up} == {resident_id}


def test_every_staff_write_records_the_key_and_the_address_it_came_from(api: ApiDriver) -> None:
    api.scheme("leisure")
    address = "203.0.113.9"
    resident = _from(
        api, address, "POST", RESIDENTS, "caseworker", kind="person", name="Eve", date_of_birth="2001-02-03"
    )
    resident_id = resident.json["id"]
    card = _from(api, address, "POST", f"{RESIDENTS}/{resident_id}/cards", "caseworker").json
    _from(api, address, "POST", f"/api/v1/cards/{card['number']}/block", "admin")
    _from(api, address, "POST", f"/api/v1/cards/{card['number']}/replace", "admin")
    _from(api, address, "POST", "/api/v1/schemes/leisure/members", "caseworker", resident_id=resident_id)
    outlet = _from(api, address, "POST", "/api/v1/outlets", "admin", name="Pool", schemes=["leisure"]).json
    _from(api, address, "PATCH", f"/api/v1/outlets/{outlet['id']}", "admin", name="The Pool")
    device = _from(
        api, address, "POST", f"/api/v1/outlets/{outlet['id']}/devices", "admin", label="desk"
    ).json
    _from(api, address, "POST", f"/api/v1/outlets/{outlet['id']}/devices/{device['id']}/revoke", "admin")
    _from(api, address, "PATCH", "/api/v1/schemes/leisure", "scheme_manager", rules={})
    _from(api, address, "GET", f"{RESIDENTS}/{resident_id}/export", "caseworker")
    _from(api, address, "DELETE", f"{RESIDENTS}/{resident_id}/personal-data", "admin")

    entries = [e for e in _log(api, role="admin") if e["action"] != "scheme.create"]
    assert {e["action"] for e in entries} == {
        "resident.enrol",
        "card.issue",
        "card.block",
        "card.replace",
        "membership.enrol",
        "outlet.create",
        "outlet.update",
        "device.create",
        "device.revoke",
        "scheme.update",
        "resident.export",
        "resident.erase",
    }
    for entry in entries:
        assert entry["remote_address"] == address, entry
        role = entry["actor"].split(":")[0]
        assert entry["key_id"] == _key_id(api, role) and entry["actor"] == f"{role}:{entry['key_id']}"


def test_the_staff_log_filters_by_actor_action_target_and_time(api: ApiDriver) -> None:
    first = api.call("POST", RESIDENTS, "caseworker", json={"kind": "household", "name": "One"}).json["id"]
    api.clock.advance(dt.timedelta(minutes=5))
    middle = api.clock.now()
    second = api.call("POST", RESIDENTS, "admin", json={"kind": "household", "name": "Two"}).json["id"]
    api.clock.advance(dt.timedelta(minutes=5))
    api.call("GET", f"{RESIDENTS}/{second}/export", "admin")

    caseworker = f"caseworker:{_key_id(api, 'caseworker')}"
    assert [e["target"] for e in _log(api, f"&actor={caseworker}")] == [first]
    assert [e["action"] for e in _log(api, f"&target={second}")] == ["resident.export", "resident.enrol"]
    assert [e["target"] for e in _log(api, "&action=resident.enrol")] == [second, first]
    since = middle.isoformat().replace("+00:00", "Z")
    assert [e["target"] for e in _log(api, f"&action=resident.enrol&from={since}")] == []
    assert [e["target"] for e in _log(api, f"&action=resident.enrol&to={since}")] == [second, first]
    earlier = (middle - dt.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert [e["target"] for e in _log(api, f"&action=resident.enrol&from={earlier}")] == [second]
    assert _log(api, "&action=no.such.action") == []

    later = (middle + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert_problem(api.call("GET", f"{STAFF_LOG}?from={later}&to={since}", "admin"), 422, "validation")
    assert_problem(api.call("GET", f"{STAFF_LOG}?from=yesterday", "admin"), 422, "validation")
    assert_problem(api.call("GET", f"{STAFF_LOG}?who=me", "admin"), 422, "validation")
    for role in ("caseworker", "finance", "scheme_manager"):
        assert_problem(api.call("GET", STAFF_LOG, role), 403, "forbidden")


def test_the_staff_log_pages_newest_first_with_a_cursor(api: ApiDriver) -> None:
    for number in range(5):
        api.resident(name=f"Resident {number}")
        if number % 2:
            api.clock.advance(dt.timedelta(seconds=1))  # some share an instant: the id breaks the tie
    everything = _log(api)
    assert len(everything) == 5
    assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)

    seen: list[str] = []
    after = ""
    while True:
        page = api.call("GET", f"{STAFF_LOG}?limit=2&starting_after={after}", "admin").json
        seen += [entry["id"] for entry in page["data"]]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert seen == [e["id"] for e in everything]
    unknown = api.call("GET", f"{STAFF_LOG}?starting_after={uuid.uuid4()}", "auditor")
    assert_problem(unknown, 422, "validation")


def test_residents_enrolled_before_the_name_index_existed_are_found_after_migrating(
    engine: Engine, database_url: str
) -> None:
    config = alembic_config(database_url)
    before = ScriptDirectory.from_config(config).get_revision(MIGRATION).down_revision
    assert isinstance(before, str)
    command.downgrade(config, before)
    resident_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            insert(residents).values(id=resident_id, kind="person", created_at=dt.datetime.now(dt.UTC))
        )
        connection.execute(
            text(
                "INSERT INTO personal_details (resident_id, name, date_of_birth) "
                "VALUES (:id, 'Fay  EXAMPLE', '1970-07-07')"
            ),
            {"id": resident_id},
        )
    migrate(engine)
    with engine.connect() as connection:
        found = PeopleRepository(connection).residents_named("fay example", "1970-07-07", limit=5)
    assert found == [resident_id]
