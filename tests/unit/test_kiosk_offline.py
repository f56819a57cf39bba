"""The kiosk on its own: outbox durability, offline card checks, the client's reading of failures, sync."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk import outcomes
from kiosk.app import create_kiosk_app
from kiosk.client import ApiClient, ApiProblem, ApiUnreachable
from kiosk.counter import KEYS_CACHE, PROFILE_CACHE, Counter
from kiosk.outbox import Outbox
from kiosk.screens import CardView, ReceiptView
from kiosk.spending import Spend, spend
from kiosk.sync import Syncer
from kiosk.verifier import CardRevoked, OfflineVerifier
from ledger.cards.token import InvalidCardToken, generate_card_key, issue_token, new_card_number

NOW = dt.datetime(2026, 11, 4, 10, 0, tzinfo=dt.UTC)
PROFILE = {
    "outlet_id": "outlet-1",
    "outlet_name": "Riverside Leisure Centre",
    "schemes": [
        {
            "scheme": "leisure",
            "name": "Leisure vouchers",
            "unit": "GBP",
            "offline_floor_limit_minor": 500,
            "refund_window_days": 14,
        },
        {
            "scheme": "healthy",
            "name": "Healthy living",
            "unit": "POINT",
            "offline_floor_limit_minor": 0,
            "refund_window_days": 1,
        },
    ],
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FakeApi:
    """A stand-in for the API: down, up, or applying a write and then losing the answer."""

    def __init__(self) -> None:
        self.down = False
        self.lose_answers = False
        self.applied: dict[str, dict[str, Any]] = {}
        self.posts: list[str] = []
        self.documents: dict[str, dict[str, Any]] = {"/api/v1/offline-profile": PROFILE}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "POST" and request.url.path.endswith("/batch"):
            return self.batch(request)
        if request.method == "POST":
            key = request.headers["Idempotency-Key"]
            self.posts.append(key)
            body = json.loads(request.content)
            result = self.applied.setdefault(
                key,
                {
                    "outcome": "posted",
                    "amount_minor": body.get("amount_minor"),
                    "transaction_id": f"tx-{key}",
                },
            )
            if self.lose_answers:
                raise httpx.ReadTimeout("answer lost", request=request)
            return httpx.Response(201, json=result)
        if request.url.path in self.documents:
            return httpx.Response(200, json=self.documents[request.url.path])
        return httpx.Response(
            404, json={"type": "https://clubcard.example/problems/not-found", "detail": "no"}
        )

    def batch(self, request: httpx.Request) -> httpx.Response:
        """Several offline redemptions, each under its own key."""
        results = []
        for item in json.loads(request.content)["redemptions"]:
            key = item["idempotency_key"]
            self.posts.append(key)
            result = self.applied.setdefault(
                key,
                {"outcome": "posted", "amount_minor": item["amount_minor"], "transaction_id": f"tx-{key}"},
            )
            results.append({"idempotency_key": key, "status": 201, "result": result})
        if self.lose_answers:
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(200, json={"results": results})


@pytest.fixture
def card_key() -> Any:
    """A council card key."""
    return generate_card_key()


@pytest.fixture
def keys_document(card_key: Any) -> dict[str, Any]:
    """The /.well-known/clubcard-keys document for that key."""
    return {
        "keys": [
            {
                "key_id": card_key.key_id,
                "algorithm": "Ed25519",
                "public_key": _b64(card_key.public_key_bytes()),
            }
        ],
        "distrusted_keys": [],
        "revoked_cards": [],
    }


@pytest.fixture
def fake_api() -> FakeApi:
    """The fake API."""
    return FakeApi()


@pytest.fixture
def make_counter(tmp_path: Path, fake_api: FakeApi, keys_document: dict[str, Any]) -> Callable[[], Counter]:
    """A counter on an outbox in tmp_path (the same file each time: a restart) with cached keys."""
    fake_api.documents["/.well-known/clubcard-keys"] = keys_document

    def make() -> Counter:
        client = ApiClient("http://api", "secret", transport=httpx.MockTransport(fake_api.handler))
        counter = Counter(client, Outbox(tmp_path / "kiosk"), now=lambda: NOW)
        counter.outbox.save_cache(KEYS_CACHE, keys_document, "2026-11-04T09:00:00Z")
        counter.outbox.save_cache(PROFILE_CACHE, PROFILE, "2026-11-04T09:00:00Z")
        return counter

    return make


def _token(card_key: Any, number: str | None = None) -> tuple[str, str]:
    number = number or new_card_number()
    return number, issue_token(number, int(NOW.timestamp()), card_key)


def _spend(counter: Counter, token: str, number: str, amount_minor: int, key: str | None = None) -> Any:
    request = Spend(key or counter.new_key(), token, number, "leisure", "GBP", amount_minor)
    return spend(counter, request)


def test_the_verifier_trusts_a_council_signature_and_nothing_else(
    card_key: Any, keys_document: dict[str, Any]
) -> None:
    number, token = _token(card_key)
    assert OfflineVerifier(keys_document).verify(token).card_number == number
    with pytest.raises(InvalidCardToken):
        OfflineVerifier(keys_document).verify(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    with pytest.raises(InvalidCardToken):
        OfflineVerifier({**keys_document, "keys": []}).verify(token)


def test_a_distrusted_key_is_refused_even_if_it_is_still_listed(
    card_key: Any, keys_document: dict[str, Any]
) -> None:
    _, token = _token(card_key)
    distrusted = {**keys_document, "distrusted_keys": [card_key.key_id]}
    with pytest.raises(InvalidCardToken):
        OfflineVerifier(distrusted).verify(token)


def test_a_card_on_the_revocation_list_is_refused(card_key: Any, keys_document: dict[str, Any]) -> None:
    number, token = _token(card_key)
    with pytest.raises(CardRevoked):
        OfflineVerifier({**keys_document, "revoked_cards": [number]}).verify(token)


def test_the_client_tells_a_request_never_sent_from_one_whose_answer_was_lost() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def lose(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("lost", request=request)

    for handler, maybe_applied in ((refuse, False), (lose, True)):
        client = ApiClient("http://api", "secret", transport=httpx.MockTransport(handler))
        with pytest.raises(ApiUnreachable) as unreachable:
            client.redeem(token="t", scheme="s", amount_minor=1, key="k")
        assert unreachable.value.maybe_applied is maybe_applied


def test_the_client_sends_the_key_and_reads_a_problem_as_a_refusal() -> None:
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        problem = {
            "type": "https://clubcard.example/problems/card-blocked",
            "detail": "blocked",
            "status": 403,
        }
        return httpx.Response(403, json=problem)

    client = ApiClient("http://api", "secret", transport=httpx.MockTransport(refuse))
    with pytest.raises(ApiProblem) as refused:
        client.redeem(token="t", scheme="s", amount_minor=1, key="kiosk-1:abc")
    assert seen == ["kiosk-1:abc"]
    assert outcomes.for_problem(refused.value.type) is outcomes.BLOCKED


def test_a_service_unavailable_answer_counts_as_offline() -> None:
    client = ApiClient("http://api", "k", transport=httpx.MockTransport(lambda request: httpx.Response(503)))
    with pytest.raises(ApiUnreachable):
        client.offline_profile()


def test_offline_the_kiosk_shows_the_offline_limit_left_today(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    fake_api.down = True
    counter = make_counter()
    counter.online = False
    number, token = _token(card_key)
    assert isinstance(_spend(counter, token, number, 200), ReceiptView)
    card = counter.scan(token)
    assert isinstance(card, CardView) and not card.online
    assert [(s.scheme, s.left_today) for s in card.schemes] == [("leisure", "£3.00")]


def test_offline_spends_within_the_floor_are_queued_and_beyond_it_refused(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    fake_api.down = True
    counter = make_counter()
    number, token = _token(card_key)
    first = _spend(counter, token, number, 300)
    assert isinstance(first, ReceiptView) and first.outcome is outcomes.ACCEPTED_OFFLINE
    assert _spend(counter, token, number, 250) is outcomes.OVER_OFFLINE_LIMIT
    assert isinstance(_spend(counter, token, number, 200), ReceiptView)
    assert counter.outbox.count("queued") == 2
    other_number, other_token = _token(card_key)
    assert isinstance(_spend(counter, other_token, other_number, 500), ReceiptView)


def test_offline_a_revoked_or_forged_card_is_refused_in_plain_words(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any, keys_document: dict[str, Any]
) -> None:
    fake_api.down = True
    counter = make_counter()
    counter.online = False
    number, token = _token(card_key)
    counter.outbox.save_cache(
        KEYS_CACHE, {**keys_document, "revoked_cards": [number]}, "2026-11-04T09:30:00Z"
    )
    assert counter.scan(token) is outcomes.BLOCKED
    _, forged = _token(generate_card_key())
    assert counter.scan(forged) is outcomes.NOT_A_CLUBCARD


def test_a_typed_number_is_refused_offline(make_counter: Callable[[], Counter], card_key: Any) -> None:
    counter = make_counter()
    counter.online = False
    number, _ = _token(card_key)
    assert counter.look_up_number(number) is outcomes.TYPED_NUMBER_OFFLINE


def test_the_same_form_submitted_twice_is_already_used_and_sent_once(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    counter = make_counter()
    number, token = _token(card_key)
    key = counter.new_key()
    first = _spend(counter, token, number, 200, key)
    second = _spend(counter, token, number, 200, key)
    assert isinstance(first, ReceiptView) and first.outcome is outcomes.ACCEPTED
    assert isinstance(second, ReceiptView) and second.outcome is outcomes.ALREADY_USED
    assert fake_api.posts == [key]


def test_the_queue_and_cache_survive_a_restart(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    fake_api.down = True
    counter = make_counter()
    number, token = _token(card_key)
    _spend(counter, token, number, 300)
    counter.outbox.close()
    restarted = make_counter()
    restarted.online = False
    assert restarted.outbox.count("queued") == 1
    card = restarted.scan(token)
    assert isinstance(card, CardView) and card.schemes[0].left_today == "£2.00"


def test_sync_posts_each_queued_spend_under_its_own_key_exactly_once(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    fake_api.down = True
    counter = make_counter()
    number, token = _token(card_key)
    keys = [counter.new_key() for _ in range(3)]
    for key in keys:
        _spend(counter, token, number, 100, key)
    fake_api.down = False
    fake_api.lose_answers = True  # the API applies each one but every answer is lost: nothing is marked
    Syncer(counter, concurrency=1).run_once()
    assert counter.outbox.count("queued") == 3
    fake_api.lose_answers = False
    report = Syncer(counter, concurrency=2).run_once()
    assert (report.synced, report.remaining) == (3, 0)
    assert sorted(fake_api.applied) == sorted(keys)  # three spends, each applied once, under its key
    assert sorted(set(fake_api.posts)) == sorted(keys)


def test_a_lost_answer_within_the_floor_is_kept_as_an_offline_spend_under_the_same_key(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    counter = make_counter()
    number, token = _token(card_key)
    fake_api.lose_answers = True
    key = counter.new_key()
    result = _spend(counter, token, number, 400, key)
    assert isinstance(result, ReceiptView) and result.outcome is outcomes.ACCEPTED_OFFLINE
    row = counter.outbox.get(key)
    assert row is not None and (row.state, row.offline) == ("queued", True)


def test_a_lost_answer_over_the_floor_asks_to_try_again_with_the_same_key(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    counter = make_counter()
    number, token = _token(card_key)
    fake_api.lose_answers = True
    key = counter.new_key()
    assert _spend(counter, token, number, 900, key) is outcomes.NO_ANSWER
    fake_api.lose_answers = False
    again = _spend(counter, token, number, 900, key)
    assert isinstance(again, ReceiptView) and again.outcome is outcomes.ACCEPTED
    assert fake_api.posts == [key, key] and list(fake_api.applied) == [key]


def test_an_unanswered_spend_left_at_the_counter_is_settled_by_sync_and_refunded(
    make_counter: Callable[[], Counter], fake_api: FakeApi, card_key: Any
) -> None:
    counter = make_counter()
    number, token = _token(card_key)
    fake_api.lose_answers = True
    key = counter.new_key()
    assert _spend(counter, token, number, 900, key) is outcomes.NO_ANSWER  # over the floor: not taken offline
    fake_api.lose_answers = False
    report = Syncer(counter, settle_after=dt.timedelta(0)).run_once()
    assert report.settled == 1
    assert fake_api.posts == [key, key, f"{key}:undo"]  # sent again under its key (a replay), then refunded
    row = counter.outbox.get(key)
    assert row is not None and row.state == "cancelled"


def test_another_site_in_the_same_browser_cannot_post_to_the_kiosk(
    make_counter: Callable[[], Counter],
) -> None:
    client = create_kiosk_app(make_counter()).test_client()
    refused = client.post("/scan", data={"card_token": "x"}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    fetched = client.post("/scan", data={"card_token": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403
    own = client.post("/scan", data={"card_token": "x"}, headers={"Origin": "http://localhost"})
    assert own.status_code == 200 and "Not a Clubcard" in own.get_data(as_text=True)


def test_a_receipt_that_does_not_exist_says_to_start_again(make_counter: Callable[[], Counter]) -> None:
    client = create_kiosk_app(make_counter()).test_client()
    missing = client.get("/receipts/kiosk-unknown:key")
    assert missing.status_code == 404
    assert "Nothing was charged" in missing.get_data(as_text=True)
