"""The insight page of one scheme at borough scale: p50/p99 server time of /admin/insight/schemes/<slug>, as
a whole and by ward and by age band, signed in through the real pages (Flask test client), with 100,000
enrolled residents in eight wards and 1,000,000 postings in a PostgreSQL database made for the run and
dropped after it. Aim: p50 <= 500 ms. A page's figures are kept for FRESH_SECONDS per process
(ledger/usecases/insight_cache.py): p50/p99 are of pages within that time, and `worked_out_ms_*` is the time
of a page whose figures are worked out from the postings (the first, and one every FRESH_SECONDS).

Seeding is set-based as in admin_pages.py: members (residents, details in eight wards, cards, memberships)
and the ward list by COPY; a bulk issuance to every member; redemptions at 300 outlets appended by COPY.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine

from api.app import create_app
from bench.admin_pages import ISSUED_MINOR, issue_and_redeem, sign_in, timed
from bench.common import arguments, copy_rows, emit, fresh_database, funded_scheme, log
from ledger.cards.token import new_card_number
from ledger.clock import SystemClock
from ledger.db.people_repository import name_lookup_hash
from ledger.db.tables import cards, memberships, personal_details, residents, ward_deprivation
from ledger.usecases.common import new_id
from ledger.usecases.insight import FIGURES

AIM_P50_MS = 500.0
WARDS = ("Riverside", "Northgate", "Castle", "Eastfield", "Harbour", "Parkside", "Millbrook", "Hillcrest")


def seed_members(engine: Engine, scheme: dict[str, Any], count: int, key_id: str) -> list[str]:
    """`count` residents (personal details in eight wards, birth dates over 70 years, a card each), all
    members of the scheme, by COPY; and the ward list the equity lens reads. Their resident ids."""
    now, made = SystemClock().now(), [new_id() for _ in range(count)]
    born = [dt.date(1950, 1, 1) + dt.timedelta(days=(n * 7919) % 25_000) for n in range(count)]
    copy_rows(engine, residents, [{"id": r, "kind": "person", "created_at": now} for r in made])
    copy_rows(
        engine,
        personal_details,
        [{"resident_id": r, "name": f"Resident {n:06d}", "date_of_birth": born[n].isoformat(),
          "postcode": "AB1 2CD", "ward": WARDS[n % len(WARDS)], "contact": None,
          "name_lookup_hash": name_lookup_hash(f"Resident {n:06d}")} for n, r in enumerate(made)],
    )  # fmt: skip
    copy_rows(
        engine,
        cards,
        [{"number": new_card_number(), "resident_id": r, "key_id": key_id, "issued_at": now,
          "blocked_at": None, "replaced_by": None} for r in made],
    )  # fmt: skip
    copy_rows(
        engine,
        memberships,
        [{"resident_id": r, "scheme_id": scheme["id"], "collective_id": None, "referral": None,
          "enrolled_at": now, "enrolled_by": "bench"} for r in made],
    )  # fmt: skip
    copy_rows(
        engine,
        ward_deprivation,
        [
            {"ward": ward, "decile": 1 + n, "uploaded_at": now, "uploaded_by": "bench"}
            for n, ward in enumerate(WARDS)
        ],
    )
    return made


def worked_out_ms(request: Callable[[], Any]) -> float:
    """The page's time when its figures are not kept (the first request, and one every FRESH_SECONDS)."""
    FIGURES.clear()
    started = time.perf_counter()
    response = request()
    assert response.status_code == 200 and response.get_data()
    return round((time.perf_counter() - started) * 1000, 1)


def main() -> None:
    """Seed the borough, sign in as an admin, time the scheme's insight page three ways."""
    args = arguments(__doc__ or "")
    people_count, samples = (100_000, 10) if args.quick else (100_000, 60)
    spends = 400_000  # 100,000 issues and 400,000 redemptions: 1,000,000 postings
    figures: dict[str, Any] = {"bench": "insight", "quick": args.quick, "residents": people_count}
    with (
        fresh_database(args.database_url, "insight", keep=args.keep) as engine,
        tempfile.TemporaryDirectory() as data,
    ):
        started = time.perf_counter()
        issued_at = SystemClock().now() - dt.timedelta(days=31)
        scheme = funded_scheme(engine, "leisure", people_count * ISSUED_MINOR)
        url = engine.url.render_as_string(hide_password=False)
        app = create_app({"CLUBCARD_DATABASE_URL": url, "CLUBCARD_DATA_DIR": data})
        context = app.extensions["clubcard"]
        owners = seed_members(engine, scheme, people_count, context.card_key.key_id)
        log(f"{people_count:,} members with cards in {len(WARDS)} wards")
        figures["postings"] = issue_and_redeem(engine, scheme, owners, spends, issued_at)
        figures["seed_seconds"] = round(time.perf_counter() - started, 1)
        client = app.test_client()
        sign_in(client, context, "admin")  # admin_pages.sign_in names users bench-<role>
        path = f"/admin/insight/schemes/{scheme['slug']}"
        for name, query in (("scheme", ""), ("by_ward", "?by=ward"), ("by_age_band", "?by=age")):
            request = functools.partial(client.get, path + query)
            figures[f"worked_out_ms_{name}"] = worked_out_ms(request)
            measured = timed(request, samples)
            figures[f"p50_ms_{name}"], figures[f"p99_ms_{name}"] = measured["p50"], measured["p99"]
            log(
                f"insight {name}: worked out in {figures[f'worked_out_ms_{name}']} ms; then "
                f"p50 {measured['p50']} ms, p99 {measured['p99']} ms"
            )
        context.engine.dispose()
    worst = max(figures[f"p50_ms_{name}"] for name in ("scheme", "by_ward", "by_age_band"))
    figures["worst_p50_ms"], figures["aim_met"] = worst, worst <= AIM_P50_MS
    # The aim is met by keeping figures; working them out is still a scan of every posting of the scheme.
    figures["worst_worked_out_ms"] = max(
        figures[f"worked_out_ms_{name}"] for name in ("scheme", "by_ward", "by_age_band")
    )
    emit(figures)


if __name__ == "__main__":
    main()
