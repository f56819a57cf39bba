"""GET /.well-known/clubcard-ledger publishes the latest signed tree head and the ledger public key."""

from __future__ import annotations

from ledger.clock import parse_rfc3339
from ledger.signing import tree_head_message, verify_signature
from tests.integration.conftest import Books
from tests.integration.tamper_support import sealed_books
from tests.support.api import ApiDriver, assert_problem

PATH = "/.well-known/clubcard-ledger"


def test_the_ledger_head_is_a_not_found_problem_until_something_is_sealed(api: ApiDriver) -> None:
    body = assert_problem(api.call("GET", PATH), 404, "not-found")
    assert "nothing has been sealed yet" in body["detail"]


def test_anyone_gets_the_latest_signed_head_with_the_ledger_public_key_cacheable_for_a_minute(
    api: ApiDriver,
) -> None:
    books = Books(api.context.engine)
    sealed_books(books, api.context.ledger_key)
    latest = books.run(lambda uow: uow.audit.latest_checkpoint())

    response = api.call("GET", PATH)  # no Authorization header

    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "public, max-age=60"
    body = response.json
    assert body == {
        "tree_size": 302,
        "root_hash": latest.root_hash,
        "signed_at": body["signed_at"],
        "key_id": api.context.ledger_key.key_id,
        "signature": latest.signature,
        "public_key": api.context.ledger_key.public_key_bytes().hex(),
        "algorithm": "Ed25519",
    }
    assert parse_rfc3339(body["signed_at"]) == latest.signed_at
    message = tree_head_message(
        body["tree_size"], bytes.fromhex(body["root_hash"]), body["signed_at"], body["key_id"]
    )
    assert verify_signature(bytes.fromhex(body["public_key"]), message, bytes.fromhex(body["signature"]))


def test_the_ledger_head_is_documented_as_public_in_the_openapi_document(api: ApiDriver) -> None:
    spec = api.call("GET", "/api/openapi.json").json
    operation = spec["paths"][PATH]["get"]
    assert operation["security"] == []
    assert "consistency proof" in operation["description"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    properties = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert set(properties) == {
        "tree_size",
        "root_hash",
        "signed_at",
        "key_id",
        "signature",
        "public_key",
        "algorithm",
    }
    assert "404" in operation["responses"]
