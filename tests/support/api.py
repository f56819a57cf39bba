"""The one driver for API tests: the app on a fresh database, its clock, a key per role, requests, and
factories for what other requests would have made (schemes, residents, cards, outlets, value).

Take the `api` fixture (tests/conftest.py: once on SQLite, once on PostgreSQL); `world` is the same
fixture under the name the value tests read as, and `World` the same class.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.app import create_app
from api.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from clubcard.context import LedgerContext
from clubcard.jobs import JobRunner
from ledger.clock import FixedClock
from ledger.units import AccountKind, Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.audit import check, trial_balance
from ledger.usecases.cards import block_card, issue_card
from ledger.usecases.checkpoints import seal, verify
from ledger.usecases.common import ensure_account, new_id
from ledger.usecases.residents import enrol_resident
from ledger.usecases.schemes import create_scheme, get_scheme

START = dt.datetime(2026, 11, 4, 10, 0, tzinfo=dt.UTC)  # a Wednesday
STAFF_ROLES = ("admin", "scheme_manager", "caseworker", "finance", "auditor")
PROBLEM = PROBLEM_BASE
AUTO = "auto"  # as an Idempotency-Key: a fresh one
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# A scheme as a factory made it, or its slug.
SchemeRef = Mapping[str, Any] | str


class ApiDriver:
    """Drives the API as its callers would, and sets up what other endpoints would have created."""

    def __init__(self, app: Flask, clock: FixedClock) -> None:
        self.app = app
        self.clock = clock
        self.context: LedgerContext = app.extensions["clubcard"]
        self.client: FlaskClient = app.test_client()
        # Who a request is from, by name: each staff role once, and any key a test names (e.g. "device").
        self.secrets: dict[str, str] = {}
        self._idempotency = itertools.count()

    @classmethod
    def on(
        cls, database_url: str, data_directory: Path, *, clock: FixedClock | None = None, **settings: Any
    ) -> Self:
        """A new app on this database (extra settings override the defaults), with a fixed clock."""
        clock = clock or FixedClock(START)
        config = {"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(data_directory)}
        return cls(create_app({**config, "CLOCK": clock, **settings}), clock)

    def close(self) -> None:
        """Let go of the database."""
        self.context.engine.dispose()

    def run(self, operation: Callable[[Any], Any]) -> Any:
        """Run a use case in one writing transaction."""
        return self.context.write(operation)

    def read(self, operation: Callable[[Any], Any]) -> Any:
        """Run a read in one transaction."""
        return self.context.read(operation)

    # -- keys and requests -----------------------------------------------------------------------------

    def new_key(self, role: str, outlet_id: str | None = None, label: str | None = None) -> str:
        """A new key's secret for a role (a device key needs its outlet)."""
        return str(
            self.run(
                lambda uow: create_key(
                    uow, role=role, outlet_id=outlet_id, label=label or role, now=self.clock.now()
                )
            ).secret
        )

    def staff(self, role: str) -> str:
        """The secret of this staff role's key (one per role, made on first use)."""
        if role not in self.secrets:
            self.secrets[role] = self.new_key(role)
        return self.secrets[role]

    def idempotency_key(self) -> str:
        """A fresh Idempotency-Key."""
        return f"k-{next(self._idempotency)}-{new_id()}"

    def headers(self, who: str | None, key: str | None = AUTO) -> dict[str, str]:
        """Authorization as `who` (a role, a name in `secrets`, or a raw secret; None for nobody) and an
        Idempotency-Key (AUTO for a fresh one, None for none)."""
        headers: dict[str, str] = {}
        if who is not None:
            secret = self.secrets.get(who) or (self.staff(who) if who in STAFF_ROLES else who)
            headers["Authorization"] = f"Bearer {secret}"
        if key is not None:
            headers["Idempotency-Key"] = self.idempotency_key() if key == AUTO else key
        return headers

    def call(
        self,
        method: str,
        path: str,
        who: str | None = None,
        *,
        json: Any = None,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        raw: str | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        """One request as `who` (see headers); `raw` sends that text as the JSON body instead of `json`."""
        sent = {**self.headers(who, key), **(headers or {})}
        if raw is not None:
            return self.client.open(
                path, method=method, data=raw, headers=sent, content_type="application/json"
            )
        return self.client.open(path, method=method, json=json, headers=sent, query_string=query)

    def post(
        self, path: str, body: Any, who: str | None, *, key: str | None = AUTO, raw: str | None = None
    ) -> TestResponse:
        """POST JSON as `who` with an Idempotency-Key (fresh unless given; None sends none)."""
        return self.call("POST", path, who, json=body, key=key, raw=raw)

    def get(self, path: str, who: str | None) -> TestResponse:
        """GET as `who`."""
        return self.call("GET", path, who)

    # -- factories -------------------------------------------------------------------------------------

    def scheme(
        self,
        slug: str,
        unit: str = "GBP",
        rules: Mapping[str, Any] | None = None,
        *,
        funded: int = 0,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Create (and fund with `funded` minor units) a scheme."""
        scheme = self.run(
            lambda uow: create_scheme(
                uow,
                slug=slug,
                name=name or slug,
                unit=Unit(unit),
                rules=dict(rules or {}),
                now=self.clock.now(),
                actor="test",
            )
        )
        if funded:
            self.fund(scheme, funded)
        return dict(scheme)

    def fund(self, scheme: SchemeRef, amount_minor: int) -> Any:
        """Add to a scheme's budget from the bank."""
        return self.run(
            lambda uow: flows.fund(
                uow,
                scheme=_scheme(uow, scheme),
                amount_minor=amount_minor,
                now=self.clock.now(),
                actor="test",
                key=self.idempotency_key(),
            )
        )

    def resident(
        self,
        schemes: tuple[Mapping[str, Any], ...] = (),
        *,
        kind: str = "person",
        name: str = "Test",
        born: str | None = "2010-01-01",
        ward: str | None = "Riverside",
        postcode: str | None = "DB1 2AB",
        collective: str | None = None,
        referral: str | None = "referral",
    ) -> str:
        """Enrol a resident with these details, a member of these schemes (eligible or not); their id."""
        birth_date = None if born is None else dt.date.fromisoformat(born)
        details = {"name": name, "date_of_birth": birth_date, "postcode": postcode, "ward": ward}

        def operation(uow: Any) -> str:
            enrolled = enrol_resident(uow, kind=kind, details=details, now=self.clock.now(), actor="test")
            for scheme in schemes:
                uow.people.add_membership(
                    resident_id=enrolled["id"],
                    scheme_id=scheme["id"],
                    collective_id=collective,
                    referral=referral,
                    actor="test",
                    now=self.clock.now(),
                )
            return str(enrolled["id"])

        return str(self.run(operation))

    def member(self, slug: str, resident_id: str, **extra: Any) -> TestResponse:
        """POST a resident's membership of a scheme as a caseworker (eligibility checked)."""
        body = {"resident_id": resident_id, **extra}
        return self.call("POST", f"/api/v1/schemes/{slug}/members", "caseworker", json=body)

    def card(self, resident_id: str) -> tuple[str, str]:
        """Issue a card: (number, token)."""
        card = self.run(
            lambda uow: issue_card(
                uow, resident_id=resident_id, key=self.context.card_key, now=self.clock.now()
            )
        )
        return card.number, card.token

    def block(self, number: str) -> None:
        """Block a card."""
        self.run(lambda uow: block_card(uow, number=number, now=self.clock.now()))

    def outlet(
        self,
        categories: list[str],
        schemes: list[str],
        *,
        name: str = "outlet",
        outlet_id: str | None = None,
        device_label: str | None = None,
    ) -> tuple[str, str]:
        """An outlet and a device key for it: (outlet id, secret)."""
        outlet_id = outlet_id or new_id()
        self.run(
            lambda uow: uow.registry.add_outlet(
                id=outlet_id, name=name, categories=categories, schemes=schemes, now=self.clock.now()
            )
        )
        return outlet_id, self.new_key("device", outlet_id, label=device_label or f"{name} kiosk")

    def issue(self, scheme: SchemeRef, owner_id: str, amount_minor: int, **options: Any) -> Any:
        """Credit a wallet through the issue use case (options: category, expires_at...)."""
        return self.run(
            lambda uow: flows.issue(
                uow,
                scheme=_scheme(uow, scheme),
                owner_id=owner_id,
                amount_minor=amount_minor,
                now=self.clock.now(),
                actor="caseworker:test",
                key=self.idempotency_key(),
                **options,
            )
        )

    def spend(
        self, scheme: SchemeRef, owner_id: str, amount_minor: int, *, outlet_id: str | None = None
    ) -> Any:
        """Spend from a wallet into an outlet's payable account (a test outlet's unless given)."""

        def operation(uow: Any) -> Any:
            payable = ensure_account(
                uow,
                name=f"outlet:{outlet_id or 'test'}:payable:GBP",
                unit=Unit.GBP,
                kind=AccountKind.PAYABLE,
                floor_minor=None,
                now=self.clock.now(),
            )
            return flows.spend(
                uow,
                scheme=_scheme(uow, scheme),
                owner_id=owner_id,
                amount_minor=amount_minor,
                payable_account_id=payable.id,
                categories=None,
                now=self.clock.now(),
                actor="device:test",
                key=self.idempotency_key(),
                outlet_id=outlet_id,
            )

        return self.run(operation)

    # -- the books -------------------------------------------------------------------------------------

    def wallet(self, owner_id: str, scheme: SchemeRef) -> int:
        """A wallet's balance in one scheme."""
        return int(self.read(lambda uow: uow.lots.owners_total(owner_id, _scheme(uow, scheme)["id"])))

    def balance(self, account_id: str) -> int:
        """An account's balance."""
        return int(self.read(lambda uow: uow.accounts.balance(account_id)))

    def account_id(self, name: str) -> str | None:
        """The id of an account by name."""
        found = self.read(lambda uow: uow.accounts.by_name(name))
        return None if found is None else str(found.id)

    def payable(self, outlet_id: str) -> int:
        """What an outlet is owed in pounds (0 before its first redemption)."""
        account = self.account_id(f"outlet:{outlet_id}:payable:GBP")
        return 0 if account is None else self.balance(account)

    def books(self) -> tuple[Any, ...]:
        """The trial balance now, to compare before and after a refused request."""
        return tuple(self.read(lambda uow: trial_balance(uow)).lines)

    def transaction(self, transaction_id: str) -> Any:
        """A recorded transaction."""
        return self.read(lambda uow: uow.journal.get(transaction_id))

    def assert_audit_ok(self) -> None:
        """Balances equal sums of postings, every transaction balances, floors hold."""
        report = self.read(lambda uow: check(uow))
        assert report.ok, report.problems

    def assert_books_right(self) -> None:
        """Trial balance zero in every unit, the audit check clean, and the sealed log verifies."""
        balance = self.read(lambda uow: trial_balance(uow))
        assert balance.balanced and set(balance.totals_by_unit.values()) <= {0}, balance.totals_by_unit
        self.assert_audit_ok()
        key = self.context.ledger_key
        self.run(lambda uow: seal(uow, key, self.clock.now()))
        report = self.read(lambda uow: verify(uow, {key.key_id}, workers=1))
        assert report.ok, report.problem

    def wait_for_job(self, job_id: str, who: str, timeout_seconds: float = 30.0) -> dict[str, Any]:
        """Run the queued jobs as a worker would, then read the job until it is no longer running."""
        JobRunner(self.context.uow_factory, self.clock).run_pending()
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            job = self.get(f"/api/v1/jobs/{job_id}", who).get_json()
            if job["status"] not in ("queued", "running"):
                return dict(job)
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} still running")


def _scheme(uow: Any, scheme: SchemeRef) -> Mapping[str, Any]:
    return get_scheme(uow, scheme) if isinstance(scheme, str) else scheme


def assert_problem(response: TestResponse, status: int, problem: str) -> dict[str, Any]:
    """Check an RFC 9457 problem response of this status and type; returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.content_type == PROBLEM_CONTENT_TYPE
    body = dict(response.get_json() or {})
    assert body["type"] == PROBLEM_BASE + problem, body
    assert body["status"] == status, body
    assert body["title"] and body["detail"], body
    return body


def driver_on(database_url: str, data_directory: Path, **settings: Any) -> Iterator[ApiDriver]:
    """An ApiDriver for a fixture: made, yielded, and its database let go of afterwards."""
    driver = ApiDriver.on(database_url, data_directory, **settings)
    yield driver
    driver.close()


World = ApiDriver
