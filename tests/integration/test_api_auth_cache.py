"""Authentication is served from a one-second cache, so a revoked key stops working within a second."""

from __future__ import annotations

from sqlalchemy import event

from api.auth import CACHE_EXTENSION, PrincipalCache
from ledger.usecases.api_keys import authenticate, revoke_key
from tests.support.api import ApiDriver, assert_problem

UNITS = "/api/v1/units"


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


def _install_cache(api: ApiDriver) -> FakeMonotonic:
    monotonic = FakeMonotonic()
    api.app.extensions[CACHE_EXTENSION] = PrincipalCache(monotonic=monotonic)
    return monotonic


def _revoke_elsewhere(api: ApiDriver, secret: str) -> None:
    """Revoke a key the way another process would (the CLI), without this app's knowledge."""

    def operation(uow: object) -> None:
        principal = authenticate(uow, secret)  # type: ignore[arg-type]
        assert principal is not None
        revoke_key(uow, principal.key_id, api.clock.now())  # type: ignore[arg-type]

    api.context.write(operation)


def test_a_key_revoked_by_another_process_stops_working_within_one_second(api: ApiDriver) -> None:
    monotonic = _install_cache(api)
    secret = api.staff("auditor")
    assert api.call("GET", UNITS, secret).status_code == 200

    _revoke_elsewhere(api, secret)
    monotonic.seconds += 0.5
    assert api.call("GET", UNITS, secret).status_code == 200  # still cached: no database read

    monotonic.seconds += 0.5
    assert_problem(api.call("GET", UNITS, secret), 401, "unauthenticated")


def test_a_cached_key_opens_no_database_transaction_to_authenticate(api: ApiDriver) -> None:
    _install_cache(api)
    secret = api.staff("auditor")
    assert api.call("GET", UNITS, secret).status_code == 200
    connections: list[object] = []

    def count(connection: object) -> None:
        connections.append(connection)

    event.listen(api.context.engine, "begin", count)
    try:
        assert api.call("GET", UNITS, secret).status_code == 200
    finally:
        event.remove(api.context.engine, "begin", count)
    assert connections == []


def test_an_unknown_key_is_never_cached(api: ApiDriver) -> None:
    _install_cache(api)
    assert_problem(api.call("GET", UNITS, "cc_adm_not-a-key"), 401, "unauthenticated")
    assert_problem(api.call("GET", UNITS, "cc_adm_not-a-key"), 401, "unauthenticated")


def test_a_key_revoked_through_the_api_stops_working_at_once_in_this_process(api: ApiDriver) -> None:
    _install_cache(api)
    outlet = api.call(
        "POST", "/api/v1/outlets", "admin", json={"name": "Hall", "categories": ["leisure"], "schemes": []}
    )
    assert outlet.status_code == 201 and outlet.json is not None
    devices = f"/api/v1/outlets/{outlet.json['id']}/devices"
    device = api.call("POST", devices, "admin", json={"label": "front desk"}).json
    assert device is not None
    assert api.call("GET", UNITS, device["key"]).status_code == 200

    assert api.call("POST", f"{devices}/{device['id']}/revoke", "admin").status_code == 200
    assert_problem(api.call("GET", UNITS, device["key"]), 401, "unauthenticated")
