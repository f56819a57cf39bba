"""Accounts, transactions, proofs and audit reports over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.clock import FixedClock, rfc3339
from ledger.journal import Posting, canonical_header, content_hash
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.signing import tree_head_message, verify_signature
from ledger.units import Unit
from ledger.usecases import flows
from tests.support.api import ApiDriver, driver_on

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
HOUR, MINUTE = dt.timedelta(hours=1), dt.timedelta(minutes=1)
PROBLEM = "application/problem+json"
PAYABLE = "outlet:outlet-a:payable:GBP"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
OUR_PATHS = ("/api/v1/accounts/", "/api/v1/transactions/", "/api/v1/audit/")
HLEDGER_POSTING = re.compile(r"^    [A-Za-z0-9:_.\-]+    -?\d+(\.\d\d GBP| MIN| POINT)$")
KINDS = ["fund", "issue", "redeem", "reversal", "fund", "issue"]
BUDGET_NOW = dict(name="scheme:leisure:budget", unit="GBP", kind="budget", floor_minor=0, balance_minor=7_000)
BALANCES_AFTER_ISSUE = {"external:bank:GBP": -10_000, "scheme:leisure:budget": 7_000}
BALANCES_AFTER_ISSUE["wallet:r1:leisure:main"] = 3_000
# PostgreSQL seals only behind the server's oldest open transaction; other work may hold it: poll.
SEAL_PATIENCE_SECONDS = 20


class Activity:
    """What the auditor reads, made through the API driver: fund, issue, spend at outlet A, its reversal,
    a time bank; and shorthand requests under /api/v1 (as the auditor unless told)."""

    def __init__(self, api: ApiDriver) -> None:
        self.api, self.clock, self.ctx, self.app, self.client = (
            api,
            api.clock,
            api.context,
            api.app,
            api.client,
        )
        for role in ("admin", "caseworker", "finance", "auditor"):
            api.staff(role)
        for x in "ab":
            _, api.secrets[f"device-{x}"] = api.outlet([], [], name=f"outlet-{x}", outlet_id=f"outlet-{x}")
        self.leisure = api.scheme("leisure")
        self.fund = api.fund(self.leisure, 10_000)
        self.clock.advance(HOUR)
        self.issue = api.issue(self.leisure, "r1", 3_000)
        self.clock.advance(HOUR)
        self.spend = api.spend(self.leisure, "r1", 1_250, outlet_id="outlet-a")
        self.clock.advance(HOUR)
        spend_id = self.spend.transaction_id
        self.refund = api.run(
            lambda uow: flows.reverse(
                uow, transaction_id=spend_id, now=self.clock.now(), actor="test", key="r1"
            )
        )
        self.clock.advance(MINUTE)
        bank = api.scheme("timebank", "HOUR")
        api.fund(bank, 600)
        self.clock.advance(MINUTE)
        api.issue(bank, "r2", 90)
        self.clock.advance(HOUR)

    def get(self, path: str, who: str | None = "auditor", **params: Any) -> Any:
        return self.api.call("GET", f"/api/v1{path}", who, query=params)

    def post(self, path: str, who: str, body: Any = None, key: str = "") -> Any:
        return self.api.call("POST", f"/api/v1{path}", who, json=body, key=key or None)

    def pages(self, path: str, cursor: str, who: str = "auditor") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.get(path, who, limit=1, starting_after=str(items[-1][cursor]) if items else "").json
            items += page["data"]
            if not page["has_more"]:
                return items

    def eventually(self, request: Any, done: Any) -> list[Any]:
        responses, deadline = [request()], time.monotonic() + SEAL_PATIENCE_SECONDS
        while not done(responses[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)
            responses.append(request())
        assert done(responses[-1]), responses[-1].json
        return responses


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[Activity]:
    for api in driver_on(database_url, tmp_path, clock=FixedClock(T0)):
        yield Activity(api)


def test_balance_now_and_as_of_a_past_instant(world: Activity) -> None:
    budget = world.leisure["budget_account_id"]
    now = world.get(f"/accounts/{budget}", "caseworker")
    assert now.json == BUDGET_NOW | {"id": budget, "as_of": rfc3339(world.clock.now())}
    assert world.get(f"/accounts/{budget}", at=rfc3339(T0)).json["balance_minor"] == 10_000
    assert world.get(f"/accounts/{budget}", at="2026-11-01T08:59:59.999999Z").json["balance_minor"] == 0
    assert world.get(f"/accounts/{budget}", at="2026-11-01T10:30:00+01:00").json["balance_minor"] == 10_000
    assert world.get("/accounts/nope").json["type"] == "https://clubcard.example/problems/not-found"
    assert world.get(f"/accounts/{budget}", "device-a").status_code == 403
    assert world.get(f"/accounts/{budget}", None).status_code == 401


def test_entries_are_newest_first_with_cursor_pagination(world: Activity) -> None:
    seen = world.pages(f"/accounts/{world.issue.lot_account_id}/entries", "transaction_id", "finance")
    moves = [(e["kind"], e["amount_minor"]) for e in seen]
    assert moves == [("reversal", 1_250), ("redeem", -1_250), ("issue", 3_000)]
    assert (seen[1]["transaction_id"], seen[1]["outlet_id"]) == (world.spend.transaction_id, "outlet-a")
    bad = world.get(f"/accounts/{world.issue.lot_account_id}/entries", starting_after="nonexistent")
    assert (bad.status_code, bad.mimetype) == (422, PROBLEM)


def test_a_transaction_shows_postings_and_its_hash_recomputes(world: Activity) -> None:
    spend_id = world.spend.transaction_id
    body = world.get(f"/transactions/{spend_id}").json
    refund = world.refund.transaction_id
    assert (body["kind"], body["outlet_id"], body["reversed_by"]) == ("redeem", "outlet-a", refund)
    postings = [(p["account_name"], p["amount_minor"]) for p in body["postings"]]
    assert postings == [("wallet:r1:leisure:main", -1_250), (PAYABLE, 1_250)]
    times: dict[str, Any] = {k: dt.datetime.fromisoformat(body[k]) for k in ("occurred_at", "recorded_at")}
    extra = {"postings", "content_hash", "reversed_by", *times}
    header = canonical_header(**{k: v for k, v in body.items() if k not in extra}, **times)
    lines = [Posting(p["account_id"], Unit(p["unit"]), p["amount_minor"]) for p in body["postings"]]
    assert content_hash(header, lines) == body["content_hash"]  # an auditor needs not trust us
    assert world.get(f"/transactions/{spend_id}", "device-a").status_code == 200
    for who, tx in (("device-b", spend_id), ("device-a", world.fund.transaction_id)):
        hidden = world.get(f"/transactions/{tx}", who)
        assert (hidden.status_code, hidden.mimetype) == (404, PROBLEM)
        missing = world.get("/transactions/does-not-exist", who).json
        assert hidden.json == missing | {"detail": f"no transaction {tx}"}  # cannot be told apart


def test_an_inclusion_proof_verifies_against_a_signed_checkpoint(world: Activity) -> None:
    spend_id = world.spend.transaction_id
    assert world.get(f"/transactions/{spend_id}/proof", "device-b").status_code == 404
    responses = world.eventually(  # seals on demand
        lambda: world.get(f"/transactions/{spend_id}/proof", "device-a"), lambda r: r.status_code == 200
    )
    assert all(r.json["sealed"] is False and r.mimetype == PROBLEM for r in responses[:-1])
    proof, head = responses[-1].json, responses[-1].json["checkpoint"]
    leaf, root = leaf_hash(bytes.fromhex(proof["content_hash"])), bytes.fromhex(proof["root_hash"])
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    assert verify_inclusion(leaf, proof["leaf_index"], proof["tree_size"], path, root)
    signed = tree_head_message(head["tree_size"], root, head["signed_at"], head["key_id"])
    assert verify_signature(bytes.fromhex(head["public_key"]), signed, bytes.fromhex(head["signature"]))
    assert head["key_id"] == world.ctx.ledger_key.key_id and head["signature_valid"] is True
    earlier = world.get(f"/transactions/{world.fund.transaction_id}/proof", "caseworker").json
    assert earlier["checkpoint"]["tree_size"] <= head["tree_size"]  # sealed already: no new head needed


def test_trial_balance_totals_zero_now_and_in_the_past(world: Activity) -> None:
    now = world.get("/audit/trial-balance", "finance").json
    assert now["balanced"] is True and now["totals_by_unit"] == {"GBP": 0, "HOUR": 0, "POINT": 0}
    assert now["at"] == rfc3339(world.clock.now())
    by_name = {line["name"]: line["balance_minor"] for line in now["lines"]}
    assert by_name["scheme:leisure:budget"] == 7_000 and by_name["external:bank:GBP"] == -10_000
    past = world.get("/audit/trial-balance", at=rfc3339(T0 + HOUR)).json
    assert {line["name"]: line["balance_minor"] for line in past["lines"]} == BALANCES_AFTER_ISSUE
    assert world.get("/audit/trial-balance", "caseworker").status_code == 403


def _csv(text: str) -> tuple[list[dict[str, str]], dict[str, int]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    totals = {u: sum(int(r["amount_minor"]) for r in rows if r["unit"] == u) for u in ("GBP", "HOUR")}
    return rows, totals


def test_the_journal_exports_as_json_csv_and_hledger(world: Activity, tmp_path: Path) -> None:
    as_json = world.get("/audit/journal")
    assert as_json.mimetype == "application/json"
    assert [tx["kind"] for tx in as_json.json["data"]] == KINDS
    assert all(sum(p["amount_minor"] for p in tx["postings"]) == 0 for tx in as_json.json["data"])
    as_csv = world.get("/audit/journal", format="csv")
    assert as_csv.mimetype == "text/csv" and "attachment" in as_csv.headers["Content-Disposition"]
    rows, totals = _csv(as_csv.get_data(as_text=True))
    assert len(rows) == 12 and totals == {"GBP": 0, "HOUR": 0}
    assert {"account_name": PAYABLE, "amount_minor": "1250"}.items() <= rows[5].items()
    text = world.get("/audit/journal", format="hledger").get_data(as_text=True)
    for posting in ("    scheme:leisure:budget    100.00 GBP\n", "    wallet:r2:timebank:main    90 MIN\n"):
        assert posting in text
    postings = [line for line in text.splitlines() if re.match(r"    [^;]", line)]
    assert len(postings) == 12 and all(HLEDGER_POSTING.match(line) for line in postings), postings
    assert text.count("\n2026-11-01 * ") == 6
    hledger = shutil.which("hledger")
    if hledger is None:
        if os.environ.get("CLUBCARD_REQUIRE_POSTGRES") == "1":  # CI installs hledger: it must run there
            pytest.fail("hledger is not installed but CI must check the export with it")
        pytest.skip("hledger is not installed: the format was checked structurally only")
    (journal := tmp_path / "export.journal").write_text(text)
    subprocess.run([hledger, "-f", str(journal), "check", "--strict"], check=True, capture_output=True)
    balance = [hledger, "-f", str(journal), "balance", "-O", "csv"]
    output = subprocess.run(balance, check=True, capture_output=True, text=True).stdout
    report = list(csv.reader(io.StringIO(output)))
    assert report[-1] == ["total", "0"] and ["scheme:leisure:budget", "70.00 GBP"] in report


def test_journal_pages_through_ties_and_periods_tile_and_reconcile(world: Activity) -> None:
    for _ in range(5):
        world.api.fund(world.leisure, 1)  # all at one instant
    runs = [
        world.ctx.read(lambda uow, n=n: [r.id for r, _ in uow.export.transactions(batch_size=n)])
        for n in (1, 2, 3, 1_000)
    ]
    assert runs[0] == runs[1] == runs[2] == runs[3] and len(set(runs[0])) == 11
    cut = rfc3339(T0 + HOUR)  # the issue is recorded exactly here: in the first period, not the second
    first = _csv(world.get("/audit/journal", format="csv", to=cut).get_data(as_text=True))[0]
    second = _csv(world.get("/audit/journal", format="csv", **{"from": cut}).get_data(as_text=True))[0]
    ids = [{row["transaction_id"] for row in part} for part in (first, second)]
    assert not ids[0] & ids[1] and len(ids[0] | ids[1]) == 11 and world.issue.transaction_id in ids[0]
    moved: dict[str, int] = defaultdict(int)
    for line in world.get("/audit/trial-balance", at=cut).json["lines"]:
        moved[line["name"]] += line["balance_minor"]
    for row in second:
        moved[row["account_name"]] += int(row["amount_minor"])
    closing = world.get("/audit/trial-balance").json["lines"]
    assert {k: v for k, v in moved.items() if v} == {x["name"]: x["balance_minor"] for x in closing}


def test_checkpoints_are_sealed_by_finance_and_listed_for_auditors(world: Activity) -> None:
    def seal_up_to(size: int) -> list[dict[str, Any]]:
        responses = world.eventually(
            lambda: world.post("/audit/checkpoints", "finance"),
            lambda r: r.status_code == 201 and r.json["tree_size"] == size,
        )
        return [r.json for r in responses if r.status_code == 201]

    heads = seal_up_to(6)
    assert sum(h["sealed"] for h in heads) == 6 and all(h["signature_valid"] for h in heads)
    again, bad = (world.post("/audit/checkpoints", "admin", body) for body in (None, {"x": 1}))
    assert (again.status_code, again.json) == (200, {"sealed": 0}) and bad.status_code == 422
    world.clock.advance(HOUR)
    world.api.fund(world.leisure, 5)
    heads += seal_up_to(7)
    listed = world.pages("/audit/checkpoints", "tree_size")
    assert [c["tree_size"] for c in listed] == sorted((h["tree_size"] for h in heads), reverse=True)
    assert all(c["signature_valid"] for c in listed) and listed[0]["root_hash"] == heads[-1]["root_hash"]
    assert world.get("/audit/checkpoints", "finance").status_code == 403
    world.api.fund(world.leisure, 1)
    first, replay = (world.post("/audit/checkpoints", "finance", key="seal-8") for _ in range(2))
    assert (replay.status_code, replay.json) == (first.status_code, first.json)  # the first answer again


BAD_REQUESTS = [
    ("/audit/trial-balance", {"at": "yesterday"}),
    ("/audit/trial-balance", {"at": "2026-11-01T09:00:00"}),  # no time zone
    ("/audit/trial-balance", {"at": "2026-11-01T09:00:00 01:00"}),  # an unencoded +
    ("/accounts/x", {"at": "2026-13-01T09:00:00Z"}),
    ("/audit/journal", {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}),
    ("/audit/journal", {"format": "xml"}),
    ("/audit/checkpoints", {"starting_after": "abc"}),
]


def test_bad_instants_and_formats_are_422_problems(world: Activity) -> None:
    for path, params in BAD_REQUESTS:
        response = world.get(path, **params)
        assert (response.status_code, response.mimetype) == (422, PROBLEM), (path, params)
        assert response.json["type"] == "https://clubcard.example/problems/validation"


def test_audit_endpoints_are_documented_and_an_auditor_never_writes(world: Activity) -> None:
    for rule in world.app.url_map.iter_rules():
        if rule.endpoint.startswith("audit.") and WRITES & set(rule.methods or ()):
            path = re.sub(r"<[^>]+>", "x", rule.rule.removeprefix("/api/v1"))
            refused = world.post(path, "auditor")
            assert (refused.status_code, refused.mimetype) == (403, PROBLEM), rule.rule
    assert world.post("/audit/checkpoints", "caseworker").status_code == 403
    assert world.get("/audit/checkpoints").json["data"] == []  # the attempts sealed nothing
    paths = world.client.get("/api/openapi.json").get_json()["paths"]
    journal = paths["/api/v1/audit/journal"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "text/plain"} <= set(journal)
    ours = [p for p in paths if p.startswith(OUR_PATHS)]
    assert len(ours) == 8 and all("200" in paths[p]["get"]["responses"] for p in ours)
    assert "201" in paths["/api/v1/audit/checkpoints"]["post"]["responses"]
