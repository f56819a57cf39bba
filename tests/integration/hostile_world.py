"""The world the hostile-input walk runs in: real schemes, residents with cards and value, an outlet with
a kiosk, a redemption and a hold; a key per role; and a body each known write accepts, so that every
hostile value the walk sends is the only thing wrong with its request."""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from tests.integration.value_support import LEISURE, TIME_BANK
from tests.support.api import ApiDriver, World

ZERO_ID = "00000000-0000-0000-0000-000000000000"
ROLES_LINE = re.compile(r"Roles: ([a-z_]+(?:, [a-z_]+)*)\.")

RULES = {
    "eligibility": {
        "min_age": 13,
        "max_age": 19,
        "wards": ["Riverside"],
        "postcode_prefixes": ["DB1"],
        "referral_required": False,
        "resident_kinds": ["person"],
    },
    "issuing": {"mode": "series", "amount_minor": None, "period": None, "purposes": {"swim": 500}},
    "earning": {
        "check_in": {
            "amount_minor": 10,
            "per_quantity": False,
            "cap_per_day_minor": 10,
            "cap_per_week_minor": 50,
            "cap_per_period_minor": 100,
            "period": "month",
            "collective": False,
            "datum_minor": None,
            "requires_role": ["device"],
        }
    },
    "spending": {
        "outlet_categories": ["leisure-centre"],
        "purpose_categories": {"swim": ["leisure-centre"]},
        "per_transaction_limit_minor": 5000,
        "per_day_limit_minor": 10000,
        "partial_spend": True,
        "transferable": False,
        "overdraft_floor_minor": 0,
        "refund_window_days": 14,
        "offline_floor_limit_minor": 500,
    },
    "expiry": {"fixed_date": None, "days_after_issue": 365},
}


def valid_bodies(ids: dict[str, str]) -> dict[tuple[str, str], Any]:
    """A body each known write accepts in the walk's world; other writes are walked from {}."""
    spend = {"card_token": ids["ada_token"], "amount_minor": 100, "scheme": "leisure"}
    return {
        ("POST", "/api/v1/schemes"): {"slug": "walked", "name": "Walked", "unit": "GBP", "rules": RULES},
        ("PATCH", "/api/v1/schemes/{slug}"): {"name": "Leisure", "rules": RULES},
        ("POST", "/api/v1/schemes/{slug}/funding"): {
            "amount_minor": 100,
            "unit": "GBP",
            "reference": "grant",
        },
        ("POST", "/api/v1/residents"): {
            "kind": "person",
            "name": "Eve Example",
            "date_of_birth": "2011-03-04",
            "postcode": "DB1 2AB",
            "ward": "Riverside",
            "contact": "eve@example.org",
        },
        ("POST", "/api/v1/schemes/{slug}/members"): {
            "resident_id": ids["newcomer"],
            "referral": "school",
            "as_of": "2026-11-04",
        },
        ("POST", "/api/v1/outlets"): {"name": "Library", "categories": ["library"], "schemes": ["leisure"]},
        ("POST", "/api/v1/outlets/{id}/devices"): {"label": "front desk"},
        ("POST", "/api/v1/issuances"): {
            "scheme": "leisure",
            "resident_id": ids["ada"],
            "amount_minor": 100,
            "category": "swim",
            "expires_at": "2027-01-01T00:00:00Z",
        },
        ("POST", "/api/v1/issuances/bulk"): {
            "scheme": "leisure",
            "amount_minor": 100,
            "category": "swim",
            "expires_at": "2027-01-01T00:00:00Z",
        },
        ("POST", "/api/v1/earnings"): {
            "scheme": "time-bank",
            "event_type": "volunteer_hours",
            "resident_id": ids["ada"],
            "quantity": 60,
        },
        ("POST", "/api/v1/transfers"): {
            "scheme": "time-bank",
            "amount_minor": 30,
            "from_card_token": ids["ada_token"],
            "to_card_token": ids["bob_token"],
            "note": "thanks for the help",
        },
        ("POST", "/api/v1/redemptions"): spend,
        ("POST", "/api/v1/redemptions/{id}/refund"): {"reason": "changed their mind"},
        ("POST", "/api/v1/holds"): {**spend, "timeout_seconds": 60},
        ("POST", "/api/v1/holds/{id}/capture"): {"amount_minor": 50},
        ("POST", "/api/v1/audit/checkpoints"): {},
    }


# Writes whose walk needs a role other than the first one allowed (the time bank earns for staff only).
CALLERS = {("POST", "/api/v1/earnings"): "scheme_manager"}
KNOWN_WRITES = list(valid_bodies(defaultdict(str)))


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """The schema a $ref names (followed until there is none)."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def types_of(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema allows, as a set."""
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


class Walk:
    """The world the walk runs in: ids to put in paths, keys per role, and a valid body per write."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.ids: dict[str, str] = {}
        self.secrets = world.secrets  # who a request is from, by name
        self.tables = MetaData()
        self._serial = 0

    def build(self) -> None:
        """Schemes, an outlet with a kiosk, two members with cards and value, a redemption and a hold."""
        world = self.world
        leisure = world.scheme("leisure", "GBP", LEISURE, funded=100_000)
        time_bank = world.scheme("time-bank", "HOUR", TIME_BANK, funded=100_000)
        self.ids["outlet"], self.secrets["device"] = world.outlet(
            ["leisure-centre"], ["leisure", "time-bank"]
        )
        ada, bob = world.resident((leisure, time_bank)), world.resident((time_bank,))
        self.ids |= {"ada": ada, "bob": bob, "newcomer": world.resident(())}
        self.ids["card"], self.ids["ada_token"] = world.card(ada)
        self.ids["bob_token"] = world.card(bob)[1]
        for role in ("admin", "scheme_manager", "caseworker", "finance", "auditor"):
            self.secrets[role] = world.staff(role)
        issued = world.post(
            "/api/v1/issuances",
            {"scheme": "leisure", "resident_id": ada, "expires_at": "2027-01-01T00:00:00Z"},
            world.staff("caseworker"),
        )
        assert issued.status_code == 201, issued.get_json()
        spend = {"card_token": self.ids["ada_token"], "amount_minor": 300, "scheme": "leisure"}
        redeemed = world.post("/api/v1/redemptions", spend, self.secrets["device"])
        assert redeemed.status_code == 201, redeemed.get_json()
        held = world.post("/api/v1/holds", spend, self.secrets["device"])
        assert held.status_code == 201, held.get_json()
        device = world.post(
            f"/api/v1/outlets/{self.ids['outlet']}/devices", {"label": "desk"}, self.secrets["admin"]
        )
        assert device.status_code == 201, device.get_json()
        self.ids |= {
            "redemption": redeemed.get_json()["transaction_id"],
            "hold": held.get_json()["hold_id"],
            "device": device.get_json()["id"],
            "budget": leisure["budget_account_id"],
        }

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table, as text: a refused request must leave all of it exactly as it was."""
        with self.world.context.engine.connect() as connection:
            if not self.tables.tables:
                self.tables.reflect(bind=connection)
            return {
                name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
                for name, table in self.tables.tables.items()
            }

    def url(self, template: str) -> str:
        """The path with each parameter filled by a real object of the kind the segment before it names."""
        by_segment = {
            "schemes": "leisure",
            "residents": self.ids["ada"],
            "cards": self.ids["card"],
            "outlets": self.ids["outlet"],
            "devices": self.ids["device"],
            "redemptions": self.ids["redemption"],
            "holds": self.ids["hold"],
            "accounts": self.ids["budget"],
        }

        def fill(match: re.Match[str]) -> str:
            segment = template[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            return by_segment.get(segment, ZERO_ID)

        return re.sub(r"\{[^}]+\}", fill, template)

    def baseline(self, method: str, template: str, schema: dict[str, Any], document: dict[str, Any]) -> Any:
        """A body that would be accepted (for a write not known here, a guess from its schema); hostile
        values replace one field of it at a time."""
        known = valid_bodies(self.ids)
        if (method, template) in known:
            return copy.deepcopy(known[(method, template)])
        return self.guess(schema, document)

    def guess(self, schema: dict[str, Any], document: dict[str, Any], name: str = "") -> Any:
        """A plausible value for a schema: its required fields, filled from the world by their names."""
        schema = resolve(schema, document)
        kinds = types_of(schema) - {"null"}
        if schema.get("enum"):
            return next(value for value in schema["enum"] if value is not None)
        if "object" in kinds or "properties" in schema:
            required = set(schema.get("required", []))
            properties = schema.get("properties", {}).items()
            return {key: self.guess(child, document, key) for key, child in properties if key in required}
        simple = {"array": [], "integer": 1, "boolean": False}
        for kind, value in simple.items():
            if kind in kinds:
                return value
        if schema.get("format") == "date-time":
            return "2026-11-04T09:00:00Z"
        if schema.get("format") == "date":
            return "2026-11-04"
        by_name = {"token": "ada_token", "resident": "ada", "outlet": "outlet", "device": "device"}
        for part, known in by_name.items():
            if part in name:
                return self.ids[known]
        return "leisure" if "scheme" in name else "walked"

    def headers(self, method: str, template: str, operation: dict[str, Any]) -> dict[str, str]:
        """A key of a role the operation allows (none for a public write) and a fresh Idempotency-Key."""
        self._serial += 1
        headers = {"Idempotency-Key": f"hostile-{self._serial}"}
        found = ROLES_LINE.search(operation.get("description", ""))
        if found:
            allowed = found.group(1).split(", ")
            role = CALLERS.get((method, template), allowed[0])
            assert role in allowed, f"{method} {template}: {role} may not call it ({allowed})"
            headers["Authorization"] = f"Bearer {self.secrets[role]}"
        return headers


@pytest.fixture
def walk(database_url: str, tmp_path: Path) -> Iterator[Walk]:
    """The app (without rate limits: the walk sends thousands of requests) on a fresh database, built up."""
    driver = ApiDriver.on(database_url, tmp_path, RATELIMIT_ENABLED=False)
    built = Walk(driver)
    built.build()
    yield built
    driver.close()
