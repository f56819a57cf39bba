"""Seed the demo council on first run: five schemes, ten outlets, fifty residents with cards and history."""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
from pathlib import Path
from typing import Any

from admin.demo_schemes import DEMO_OUTLETS, FIVE_SCHEMES, LEISURE_WARDS
from clubcard.context import LedgerContext
from ledger.kinds import TransactionKind
from ledger.units import AccountKind, Unit
from ledger.usecases import flows
from ledger.usecases.api_keys import create_key
from ledger.usecases.common import ensure_account
from ledger.usecases.demo_council import SEED_ACTOR, any_scheme_exists, seed_resident
from ledger.usecases.outlets import create_outlet
from ledger.usecases.schemes import create_scheme
from ledger.usecases.street_pot import add_proposal, open_round

FUNDING_MINOR = {
    "leisure-vouchers": 5_000_000,
    "release-vouchers": 1_000_000,
    "time-bank": 600_000,
    "recycling-rewards": 1_000_000,
    "healthy-living": 1_000_000,
}
STAFF_ROLES = ("admin", "scheme_manager", "caseworker", "finance", "auditor")
FIRST_NAMES = [
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Ella",
    "Finn",
    "Grace",
    "Hamza",
    "Isla",
    "Jack",
    "Kai",
    "Lily",
    "Mo",
    "Nia",
    "Owen",
    "Priya",
    "Quinn",
    "Rhys",
    "Sara",
    "Tom",
    "Uma",
    "Vik",
    "Wren",
    "Yusuf",
    "Zoe",
]


def is_seeded(context: LedgerContext) -> bool:
    """True once the demo council (or any scheme) exists."""
    return context.read(any_scheme_exists)


def seed_demo(context: LedgerContext, keys_path: Path) -> dict[str, Any]:
    """Create the demo council and write its demo keys to `keys_path` (they are shown once otherwise)."""
    now = context.clock.now()
    rng = random.Random(2026)
    schemes = {s["slug"]: _scheme(context, s, now) for s in FIVE_SCHEMES}
    outlets = [_outlet(context, o, now) for o in DEMO_OUTLETS]
    keys: dict[str, Any] = {role: _key(context, role, None) for role in STAFF_ROLES}
    keys["devices"] = {
        o["name"]: {"outlet_id": o["id"], "key": _key(context, "device", o["id"])} for o in outlets
    }
    residents = _residents(context, schemes, rng, now)
    _history(context, schemes, outlets, residents, now)
    _street_pot(context, schemes, outlets, residents, now)
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    keys_path.write_text(json.dumps({"keys": keys, "cards": residents["cards"]}, indent=2))
    keys_path.chmod(0o600)
    return keys


def _scheme(context: LedgerContext, data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    scheme = context.write(
        lambda uow: create_scheme(
            uow,
            slug=data["slug"],
            name=data["name"],
            unit=Unit(data["unit"]),
            rules=data["rules"],
            now=now,
            actor="system:seed",
        )
    )
    context.write(
        lambda uow: flows.fund(
            uow,
            scheme=scheme,
            amount_minor=FUNDING_MINOR[data["slug"]],
            now=now,
            actor="system:seed",
            key=f"seed-fund:{data['slug']}",
        )
    )
    return dict(scheme)


def _outlet(context: LedgerContext, data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    outlet = context.write(
        lambda uow: create_outlet(
            uow,
            name=data["name"],
            categories=data["categories"],
            schemes=data["schemes"],
            now=now,
            actor=SEED_ACTOR,
        )
    )
    return {"id": outlet["id"], **data}


def _key(context: LedgerContext, role: str, outlet_id: str | None) -> str:
    new = context.write(
        lambda uow: create_key(
            uow, role=role, outlet_id=outlet_id, label=f"demo {role}", now=context.clock.now()
        )
    )
    return new.secret


def _resident(
    context: LedgerContext,
    kind: str,
    details: dict[str, Any],
    slugs: list[str],
    schemes: dict[str, dict[str, Any]],
    now: dt.datetime,
    collective: str | None = None,
) -> dict[str, Any]:
    seeded = context.write(
        lambda uow: seed_resident(
            uow,
            kind=kind,
            details=details,
            scheme_ids=[schemes[slug]["id"] for slug in slugs],
            collective_id=collective,
            card_key=context.card_key,
            now=now,
        )
    )
    return {
        "id": seeded.resident_id,
        "name": details["name"],
        "token": seeded.card_token,
        "number": seeded.card_number,  # the resident page's demo sign-in (with the date of birth)
        "date_of_birth": details["date_of_birth"],
        "schemes": slugs,
    }


def _residents(
    context: LedgerContext, schemes: dict[str, dict[str, Any]], rng: random.Random, now: dt.datetime
) -> dict[str, Any]:
    people: dict[str, Any] = {
        "teens": [],
        "release": [],
        "time": [],
        "households": [],
        "streets": [],
        "healthy": [],
    }
    for index in range(20):
        birth = dt.date(now.year - rng.randint(13, 19), rng.randint(1, 12), rng.randint(1, 28))
        details = {
            "name": f"{FIRST_NAMES[index % 25]} Teen",
            "date_of_birth": birth.isoformat(),
            "postcode": "DB1 2AB",
            "ward": LEISURE_WARDS[index % 4],
            "contact": None,
        }
        people["teens"].append(
            _resident(context, "person", details, ["leisure-vouchers", "healthy-living"], schemes, now)
        )
    for index in range(5):
        details = {
            "name": f"{FIRST_NAMES[index]} Release",
            "date_of_birth": "1990-05-0" + str(index + 1),
            "postcode": "DB3 4CD",
            "ward": "Castle",
            "contact": "probation office",
        }
        people["release"].append(_resident(context, "person", details, ["release-vouchers"], schemes, now))
    for index in range(10):
        details = {
            "name": f"{FIRST_NAMES[index + 5]} Member",
            "date_of_birth": "1975-01-15",
            "postcode": "DB2 1EF",
            "ward": "Northgate",
            "contact": None,
        }
        people["time"].append(
            _resident(context, "person", details, ["time-bank", "healthy-living"], schemes, now)
        )
    for street in ("Oak Street", "Elm Road"):
        people["streets"].append(
            _resident(
                context,
                "collective",
                {
                    "name": street,
                    "date_of_birth": None,
                    "postcode": "DB4",
                    "ward": "Eastfield",
                    "contact": None,
                },
                ["recycling-rewards"],
                schemes,
                now,
            )
        )
    for index in range(13):
        street = people["streets"][index % 2]
        details = {
            "name": f"{index + 1} {street['name']}",
            "date_of_birth": None,
            "postcode": "DB4 5GH",
            "ward": "Eastfield",
            "contact": None,
        }
        people["households"].append(
            _resident(
                context, "household", details, ["recycling-rewards"], schemes, now, collective=street["id"]
            )
        )
    cards = {
        p["name"]: {
            "resident_id": p["id"],
            "token": p["token"],
            "number": p["number"],
            "date_of_birth": p["date_of_birth"],
            "schemes": p["schemes"],
        }
        for group in people.values()
        for p in group
    }
    return {**people, "cards": cards}


def _history(
    context: LedgerContext,
    schemes: dict[str, dict[str, Any]],
    outlets: list[dict[str, Any]],
    residents: dict[str, Any],
    now: dt.datetime,
) -> None:
    leisure, release = schemes["leisure-vouchers"], schemes["release-vouchers"]
    pool = _payable(context, outlets[0]["id"], Unit.GBP, now)

    def issue(scheme: dict[str, Any], owner: str, amount: int, key: str, **extra: Any) -> None:
        context.write(
            functools.partial(
                flows.issue,
                scheme=scheme,
                owner_id=owner,
                amount_minor=amount,
                now=now,
                actor="system:seed",
                key=key,
                **extra,
            )
        )

    for index, teen in enumerate(residents["teens"]):
        issue(
            leisure, teen["id"], 1500, f"seed-allowance:{teen['id']}", expires_at=now + dt.timedelta(days=91)
        )
        if index % 3 == 0:
            context.write(
                functools.partial(
                    flows.spend,
                    scheme=leisure,
                    owner_id=teen["id"],
                    amount_minor=450,
                    payable_account_id=pool,
                    categories=outlets[0]["categories"],
                    now=now,
                    actor="system:seed",
                    key=f"seed-swim:{teen['id']}",
                    outlet_id=outlets[0]["id"],
                )
            )
    for person in residents["release"]:
        for purpose, amount in release["rules"]["issuing"]["purposes"].items():
            issue(
                release,
                person["id"],
                amount,
                f"seed-release:{person['id']}:{purpose}",
                category=purpose,
                expires_at=now + dt.timedelta(days=90),
            )
    for member in residents["time"][:5]:
        issue(
            schemes["time-bank"],
            member["id"],
            180,
            f"seed-hours:{member['id']}",
            kind=TransactionKind.EARN,
            metadata={"event_type": "volunteer_hours"},
        )


def _payable(context: LedgerContext, outlet_id: str, unit: Unit, now: dt.datetime) -> str:
    account = context.write(
        lambda uow: ensure_account(
            uow,
            name=f"outlet:{outlet_id}:payable:{unit.value}",
            unit=unit,
            kind=AccountKind.PAYABLE,
            floor_minor=None,
            now=now,
        )
    )
    return str(account.id)


def _street_pot(
    context: LedgerContext,
    schemes: dict[str, dict[str, Any]],
    outlets: list[dict[str, Any]],
    residents: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Oak Street's pot: a street reward of 1,500 points, and an open round of three proposals."""
    recycling, oak = schemes["recycling-rewards"], residents["streets"][0]["id"]
    by_name = {outlet["name"]: outlet["id"] for outlet in outlets}
    context.write(
        functools.partial(
            flows.issue,
            scheme=recycling,
            owner_id=oak,
            amount_minor=1500,
            now=now,
            actor=SEED_ACTOR,
            key="seed-street-pot:oak",
            kind=TransactionKind.EARN,
            metadata={"event_type": "street_reward"},
        )
    )
    round_id = context.write(
        lambda uow: open_round(
            uow,
            street_id=oak,
            slug=recycling["slug"],
            closes_at=now + dt.timedelta(days=14),
            now=now,
            zone=context.clock.zone,
            actor=SEED_ACTOR,
        )
    )
    for title, cost, outlet in (
        ("Two street trees, planted and cared for", 1200, "Parks and Gardens Team"),
        ("A gardener for the verges, one day a month", 900, "Parks and Gardens Team"),
        ("Extra recycling bins", 400, "Parks and Gardens Team"),
        ("A story-time morning at the library", 300, "Central Library"),
    ):
        context.write(
            functools.partial(
                add_proposal,
                round_id=round_id,
                title=title,
                cost_minor=cost,
                outlet_id=by_name[outlet],
                now=now,
                actor=SEED_ACTOR,
            )
        )
