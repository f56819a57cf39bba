"""One walk per scheme over HTTP, on SQLite and PostgreSQL: the council's five schemes, and a sixth from data.

Each walk configures its scheme through POST /schemes (the rules from admin/demo_schemes.FIVE_SCHEMES), funds
it, registers outlets and kiosks, enrols residents (showing a not-eligible refusal where the scheme has
eligibility rules), issues cards, issues or earns value, redeems where the rules allow and is refused where
they do not, expires or refunds, and ends with the auditor: a trial balance that totals zero per unit, a
signed checkpoint covering every transaction, and `audit verify` and `audit check` both clean.

The clock starts on Monday 2 November 2026, 09:00 UTC (tests.support.api.START).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from werkzeug.test import TestResponse

from tests.e2e.scheme_walk_support import Walk, demo_scheme, walk

__all__ = ["walk"]
DAY = dt.timedelta(days=1)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _move_clock_to(walk: Walk, when: dt.datetime) -> None:
    assert when > walk.clock.now()
    walk.clock.advance(when - walk.clock.now())


def test_leisure_vouchers_are_spent_earliest_expiring_first_within_a_daily_cap_and_expire_back_to_the_budget(
    walk: Walk,
) -> None:
    slug = "leisure-vouchers"
    walk.create_scheme(demo_scheme(slug))
    walk.fund(slug, 100_000)
    _, centre = walk.outlet("Riverside Leisure Centre", ["leisure-centre"], [slug])
    _, music = walk.outlet("Castle Music School", ["music-tuition"], [slug])
    _, studio = walk.outlet("Eastfield Studios", ["studio"], [slug])
    _, library = walk.outlet("Central Library", ["library"], [slug])
    # Approved for the scheme, but of a kind the scheme's spending rules do not include.
    _, hostel = walk.outlet("Harbour House Hostel", ["accommodation"], [slug])

    teen = walk.resident("Maya", date_of_birth="2012-04-20", postcode="RV1 2AB", ward="Riverside")
    walk.join(slug, teen)
    adult = walk.resident("Tom", date_of_birth="2001-07-01", ward="Riverside")
    assert "aged 25" in walk.refused_to_join(slug, adult)
    outsider = walk.resident("Ivy", date_of_birth="2011-01-15", ward="Westbury")
    assert "ward" in walk.refused_to_join(slug, outsider)
    token = walk.card(teen)

    # The November allowance: £15 from the rules, expiring 91 days (about three months) after issue.
    november = walk.ok("POST", "/issuances", "caseworker", {"scheme": slug, "resident_id": teen})
    assert (november["amount_minor"], november["unit"], november["kind"]) == (1500, "GBP", "issue")
    assert _at(november["expires_at"]) == walk.clock.now() + dt.timedelta(days=91)
    walk.clock.advance(30 * DAY)  # Wednesday 2 December: the December allowance
    december = walk.ok("POST", "/issuances", "caseworker", {"scheme": slug, "resident_id": teen})
    assert _at(december["expires_at"]) > _at(november["expires_at"])
    assert walk.wallet(teen, slug) == 3000
    assert walk.budget(slug) == 100_000 - 3000

    swim = walk.redeem(centre, token, slug, 600)
    assert [(t["lot_account_id"], t["amount_minor"]) for t in swim["taken"]] == [
        (november["lot_account_id"], 600)
    ]
    assert swim["remaining_in_scheme_minor"] == 2400
    # £10 a day: the second spend of the day is refused, and the kiosk shows what is left today.
    walk.refuse_redemption(music, token, slug, 500, 422, "limit-exceeded")
    here = walk.entitlements(music, token)[slug]
    assert (here["available_minor"], here["left_today_minor"], here["max_spend_now_minor"]) == (
        2400,
        400,
        400,
    )

    walk.clock.advance(DAY)  # the next day the same spend is allowed
    lesson = walk.redeem(music, token, slug, 500)
    assert [t["amount_minor"] for t in lesson["taken"]] == [500]
    # A spend bigger than the oldest allowance's remainder finishes it before touching the next one.
    session = walk.redeem(studio, token, slug, 500)
    assert [(t["lot_account_id"], t["amount_minor"]) for t in session["taken"]] == [
        (november["lot_account_id"], 400),
        (december["lot_account_id"], 100),
    ]
    assert session["taken"][0]["expires_at"] < session["taken"][1]["expires_at"]

    walk.clock.advance(DAY)
    walk.refuse_redemption(hostel, token, slug, 100, 403, "not-allowed-here")
    books = walk.redeem(library, token, slug, 400)
    assert [(t["lot_account_id"], t["amount_minor"]) for t in books["taken"]] == [
        (december["lot_account_id"], 400)
    ]
    assert books["remaining_in_scheme_minor"] == walk.wallet(teen, slug) == 1000

    # The November lot expires empty: nothing goes back.
    _move_clock_to(walk, _at(november["expires_at"]) + DAY)
    budget = walk.budget(slug)
    assert walk.expire().lots_expired == 0
    assert walk.budget(slug) == budget
    # The December lot expires with £10 left: the budget gets it back and the card has nothing to spend.
    _move_clock_to(walk, _at(december["expires_at"]) + DAY)
    report = walk.expire()
    assert report.lots_expired == 1 and sum(report.returned_minor_by_scheme.values()) == 1000
    assert walk.budget(slug) == budget + 1000
    assert walk.wallet(teen, slug) == 0
    walk.refuse_redemption(library, token, slug, 100, 402, "insufficient-funds")
    assert walk.expire().lots_expired == 0  # a rerun returns nothing twice
    walk.close_the_books()


def test_release_vouchers_are_spendable_only_at_outlets_of_their_purpose_in_part_and_never_transferred(
    walk: Walk,
) -> None:
    slug = "release-vouchers"
    walk.create_scheme(demo_scheme(slug), who="admin")
    walk.fund(slug, 50_000)
    _, hostel = walk.outlet("Harbour House Hostel", ["accommodation"], [slug])
    _, outfitters = walk.outlet("Second Chance Outfitters", ["work-clothes"], [slug])
    _, skills = walk.outlet("Fresh Start Skills", ["skills-course", "interview-preparation"], [slug])

    referral = "Probation service: release plan RP-2026-114"
    leaver = walk.resident("Dean", date_of_birth="1991-03-12", postcode="RV3 9QT")
    assert "referral" in walk.refused_to_join(slug, leaver)  # no referral yet
    walk.join(slug, leaver, referral=referral)
    young = walk.resident("Kai", date_of_birth="2009-08-30")
    assert "aged 17" in walk.refused_to_join(slug, young, referral=referral)
    other = walk.resident("Lee", date_of_birth="1985-02-02")
    walk.join(slug, other, referral=referral)
    token = walk.card(leaver)

    # The caseworker issues the series, one voucher per purpose, each amount from the rules.
    series = {}
    for purpose, amount in [
        ("accommodation", 6000),
        ("work-clothes", 4000),
        ("interview-preparation", 2500),
        ("skills-course", 7500),
    ]:
        body = {"scheme": slug, "resident_id": leaver, "purpose": purpose}
        voucher = walk.ok("POST", "/issuances", "caseworker", body)
        assert (voucher["amount_minor"], voucher["category"]) == (amount, purpose)
        assert _at(voucher["expires_at"]) == walk.clock.now() + dt.timedelta(days=90)
        series[purpose] = voucher
        walk.clock.advance(dt.timedelta(minutes=1))
    assert walk.wallet(leaver, slug) == 20_000 and walk.budget(slug) == 30_000

    # At the clothes shop only the work-clothes voucher may be spent: £45 is more than it holds, however
    # much the vouchers for other purposes hold.
    at_shop = walk.entitlements(outfitters, token)[slug]
    assert [(lot["category"], lot["available_minor"]) for lot in at_shop["lots"]] == [("work-clothes", 4000)]
    walk.refuse_redemption(outfitters, token, slug, 4500, 402, "insufficient-funds")

    # Partial spend: £30 of the £60 accommodation voucher.
    rent = walk.redeem(hostel, token, slug, 3000)
    assert [(t["category"], t["amount_minor"]) for t in rent["taken"]] == [("accommodation", 3000)]
    assert rent["taken"][0]["lot_account_id"] == series["accommodation"]["lot_account_id"]
    assert rent["remaining_in_scheme_minor"] == 17_000
    clothes = walk.redeem(outfitters, token, slug, 4000)
    assert [(t["category"], t["amount_minor"]) for t in clothes["taken"]] == [("work-clothes", 4000)]
    # An outlet of two purposes takes both vouchers, earliest expiring first.
    course = walk.redeem(skills, token, slug, 3000)
    assert [(t["category"], t["amount_minor"]) for t in course["taken"]] == [
        ("interview-preparation", 2500),
        ("skills-course", 500),
    ]
    # The work-clothes voucher is used up; what is left is for other purposes, so still not here.
    walk.refuse_redemption(outfitters, token, slug, 1, 403, "not-allowed-here")
    assert walk.entitlements(outfitters, token)[slug]["available_minor"] == 0

    # Not transferable, by a caseworker or at a kiosk.
    transfer = {"scheme": slug, "from_resident_id": leaver, "to_resident_id": other, "amount_minor": 1000}
    walk.refused("POST", "/transfers", "caseworker", transfer, 422, "rule-violation")
    by_card = {"scheme": slug, "from_card_token": token, "to_resident_id": other, "amount_minor": 1000}
    walk.refused("POST", "/transfers", hostel, by_card, 422, "rule-violation")
    assert walk.wallet(other, slug) == 0

    # Refunds within the scheme's 7-day window, once; after the window the answer is expired.
    refund = walk.ok(
        "POST", f"/redemptions/{rent['transaction_id']}/refund", hostel, {"reason": "room unavailable"}
    )
    assert (refund["reverses_id"], refund["refund_window_days"]) == (rent["transaction_id"], 7)
    walk.refused("POST", f"/redemptions/{rent['transaction_id']}/refund", hostel, {}, 409, "conflict")
    assert walk.wallet(leaver, slug) == 13_000
    deposit = walk.redeem(hostel, token, slug, 1000)
    walk.clock.advance(dt.timedelta(days=7, seconds=1))
    walk.refused("POST", f"/redemptions/{deposit['transaction_id']}/refund", hostel, {}, 410, "expired")
    walk.refused("POST", f"/redemptions/{deposit['transaction_id']}/refund", "finance", {}, 410, "expired")
    assert walk.wallet(leaver, slug) == 12_000

    # What is left at expiry (£50 accommodation, £70 skills course) goes back to the budget.
    budget = walk.budget(slug)
    _move_clock_to(walk, _at(series["skills-course"]["expires_at"]) + DAY)
    report = walk.expire()
    assert report.lots_expired == 2 and sum(report.returned_minor_by_scheme.values()) == 12_000
    assert walk.budget(slug) == budget + 12_000
    assert walk.wallet(leaver, slug) == 0
    walk.close_the_books()


def test_time_bank_hours_are_confirmed_by_a_coordinator_and_paid_between_members_down_to_the_overdraft_floor(
    walk: Walk,
) -> None:
    slug = "time-bank"
    scheme = walk.create_scheme(demo_scheme(slug))
    assert scheme["unit"] == "HOUR"
    walk.fund(slug, 6000)  # 100 hours, in minutes
    _, cafe = walk.outlet("Oak Street Repair Cafe", ["repair-cafe"], [slug])
    amira, ben, chloe = (
        walk.resident(name, date_of_birth=born)
        for name, born in [
            ("Amira", "1970-05-05"),
            ("Ben", "1988-10-10"),
            ("Chloe", "2004-01-20"),
        ]
    )
    for member in (amira, ben, chloe):
        walk.join(slug, member, who="scheme_manager")
    amira_card, chloe_card = walk.card(amira), walk.card(chloe)

    # A kiosk cannot confirm volunteer hours: only a coordinator (scheme manager) can.
    hours = {"scheme": slug, "event_type": "volunteer_hours", "card_token": amira_card, "quantity": 120}
    walk.refused("POST", "/earnings", cafe, hours, 403, "forbidden")
    assert walk.wallet(amira, slug) == 0 and walk.budget(slug) == 6000
    # Two hours of gardening and two hours of accountancy: an hour is an hour whatever the work.
    gardening = walk.ok("POST", "/earnings", "scheme_manager", hours)
    ben_hours = {"scheme": slug, "event_type": "volunteer_hours", "resident_id": ben, "quantity": 120}
    accounts = walk.ok("POST", "/earnings", "scheme_manager", ben_hours)
    for earned in (gardening, accounts):
        assert (earned["credited_minor"], earned["unit"], earned["capped"]) == (120, "HOUR", False)
    assert walk.wallet(amira, slug) == walk.wallet(ben, slug) == 120

    # Chloe, new with no hours, pays for three hours of maths tuition at the cafe's kiosk: into the overdraft.
    tuition = {
        "scheme": slug,
        "from_card_token": chloe_card,
        "to_card_token": amira_card,
        "amount_minor": 180,
    }
    paid = walk.ok("POST", "/transfers", cafe, tuition)
    assert (paid["from_resident_id"], paid["to_resident_id"], paid["balance_after_minor"]) == (
        chloe,
        amira,
        -180,
    )
    # ...and seven hours of help moving house, through a caseworker: exactly down to the -10 hour floor.
    moving = {"scheme": slug, "from_resident_id": chloe, "to_resident_id": ben, "amount_minor": 420}
    assert walk.ok("POST", "/transfers", "caseworker", moving)["balance_after_minor"] == -600
    before = walk.trial_balance()["lines"]
    walk.refused("POST", "/transfers", "caseworker", {**moving, "amount_minor": 1}, 402, "insufficient-funds")
    walk.refused("POST", "/transfers", cafe, {**tuition, "amount_minor": 60}, 402, "insufficient-funds")
    assert walk.trial_balance()["lines"] == before
    assert (walk.wallet(amira, slug), walk.wallet(ben, slug), walk.wallet(chloe, slug)) == (300, 540, -600)

    # Chloe volunteers an hour and climbs back; the same minutes earn the same credit.
    chloe_hour = {"scheme": slug, "event_type": "volunteer_hours", "resident_id": chloe, "quantity": 60}
    assert walk.ok("POST", "/earnings", "scheme_manager", chloe_hour)["credited_minor"] == 60
    assert walk.wallet(chloe, slug) == -540

    # Hours are also spent at outlets that accept them, and refunded within the window.
    repair = walk.redeem(cafe, amira_card, slug, 90)
    assert repair["remaining_in_scheme_minor"] == 210
    refund = walk.ok(
        "POST", f"/redemptions/{repair['transaction_id']}/refund", cafe, {"reason": "part missing"}
    )
    assert refund["reverses_id"] == repair["transaction_id"]
    assert walk.wallet(amira, slug) == 300
    kettle = walk.redeem(cafe, amira_card, slug, 60)
    walk.clock.advance(dt.timedelta(days=8))
    walk.refused("POST", f"/redemptions/{kettle['transaction_id']}/refund", cafe, {}, 410, "expired")
    assert walk.wallet(amira, slug) == 240
    assert walk.budget(slug) == 6000 - 120 - 120 - 60
    walk.close_the_books()


def test_recycling_rewards_are_capped_per_household_and_a_street_beating_its_datum_spends_its_pot_locally(
    walk: Walk,
) -> None:
    slug = "recycling-rewards"
    walk.create_scheme(demo_scheme(slug))
    walk.fund(slug, 10_000)
    _, parks = walk.outlet("Parks and Gardens Team", ["local-service"], [slug])
    _, library = walk.outlet("Central Library", ["library"], [slug])
    _, studios = walk.outlet("Eastfield Studios", ["studio"], [slug])

    street = walk.resident("Elm Street", kind="collective", postcode="NG4 1EL")
    walk.join(slug, street)
    homes = [walk.resident(f"{number} Elm Street", kind="household", postcode="NG4 1EL") for number in (1, 3)]
    for home in homes:
        assert walk.join(slug, home, collective_id=street)["collective_id"] == street
    person = walk.resident("Nia", date_of_birth="1979-09-09", postcode="NG4 1EL")
    assert "person" in walk.refused_to_join(slug, person)

    def collection(home: str) -> TestResponse:
        body = {"scheme": slug, "event_type": "recycling_collection", "resident_id": home}
        return walk.send("POST", "/earnings", "scheme_manager", body)

    reward = {"scheme": slug, "event_type": "street_reward", "resident_id": street}
    # Week 1: 10 points a collection, capped at 30 a household a week; the fourth is refused, not part-paid.
    for _ in range(3):
        earned = collection(homes[0])
        assert earned.status_code == 201 and earned.get_json()["credited_minor"] == 10
    capped = collection(homes[0])
    assert capped.status_code == 422 and capped.get_json()["type"].endswith("/limit-exceeded")
    assert walk.wallet(homes[0], slug) == 30
    for _ in range(3):
        assert collection(homes[1]).status_code == 201
    # The street's members earned 60 this month: below the datum line of 100, so no collective reward.
    refused = walk.refused("POST", "/earnings", "scheme_manager", reward, 422, "rule-violation")
    assert "below the datum line" in refused["detail"]
    walk.refused(
        "POST", "/earnings", "scheme_manager", {**reward, "resident_id": homes[0]}, 422, "rule-violation"
    )

    walk.clock.advance(7 * DAY)  # week 2: the caps start again
    for home, collections in ((homes[0], 3), (homes[1], 2)):
        for _ in range(collections):
            assert collection(home).status_code == 201
    assert [walk.wallet(home, slug) for home in homes] == [60, 50]
    paid = walk.ok("POST", "/earnings", "scheme_manager", reward)  # 110 beats the datum line
    assert (paid["credited_minor"], paid["resident_id"], paid["unit"]) == (500, street, "POINT")
    walk.refused("POST", "/earnings", "scheme_manager", reward, 422, "rule-violation")  # once a month

    # The street pot is spent on a local service the residents chose; households spend their own points.
    street_card, home_card = walk.card(street), walk.card(homes[0])
    planting = walk.redeem(parks, street_card, slug, 400)
    assert planting["remaining_in_scheme_minor"] == 100
    walk.refuse_redemption(studios, street_card, slug, 50, 403, "not-allowed-here")
    assert walk.redeem(library, home_card, slug, 40)["remaining_in_scheme_minor"] == 20
    walk.refuse_redemption(library, home_card, slug, 21, 402, "insufficient-funds")

    # A year on, unspent points expire back to the budget.
    left = sum(walk.wallet(owner, slug) for owner in (street, *homes))
    assert left == 100 + 20 + 50
    budget = walk.budget(slug)
    walk.clock.advance(366 * DAY)
    report = walk.expire()
    assert sum(report.returned_minor_by_scheme.values()) == left
    assert walk.budget(slug) == budget + left
    assert [walk.wallet(owner, slug) for owner in (street, *homes)] == [0, 0, 0]
    walk.close_the_books()


def test_healthy_living_credits_are_earned_equally_by_alternative_activities_within_caps_and_never_deducted(
    walk: Walk,
) -> None:
    slug = "healthy-living"
    walk.create_scheme(demo_scheme(slug))
    walk.fund(slug, 1000)
    _, leisure = walk.outlet("Riverside Leisure Centre", ["leisure-centre"], [slug])
    _, hub = walk.outlet("Castle Community Hub", ["community-centre"], [slug])
    _, library = walk.outlet("Central Library", ["library"], [])

    member = walk.resident("Grace", date_of_birth="1974-06-18", postcode="CS2 8HL")
    walk.join(slug, member)
    street = walk.resident("Mill Lane", kind="collective")
    assert "collective" in walk.refused_to_join(slug, street)
    token = walk.card(member)
    balances = [walk.wallet(member, slug)]

    def event(name: str) -> dict[str, Any]:
        return {"scheme": slug, "event_type": name, "card_token": token}

    def earn(who: str, body: dict[str, Any]) -> None:
        earned = walk.ok("POST", "/earnings", who, body)
        assert (earned["credited_minor"], earned["capped"]) == (10, False)

    # Monday: a check-in earns 10; a second check-in, or another activity, the same day is over the day cap.
    earn(leisure, event("leisure_check_in"))
    walk.refused("POST", "/earnings", leisure, event("leisure_check_in"), 422, "limit-exceeded")
    walk.refused("POST", "/earnings", hub, event("walking_group"), 422, "limit-exceeded")
    walk.refused("POST", "/earnings", library, event("leisure_check_in"), 403, "not-allowed-here")
    balances.append(walk.wallet(member, slug))
    # Tuesday and Wednesday: alternatives for someone who cannot swim earn exactly the same.
    walk.clock.advance(DAY)
    earn(hub, event("walking_group"))
    balances.append(walk.wallet(member, slug))
    walk.clock.advance(DAY)
    gp_session = {"scheme": slug, "event_type": "gp_referral_session", "resident_id": member}
    earn("scheme_manager", gp_session)
    balances.append(walk.wallet(member, slug))
    # Thursday: ill at home. Nothing is deducted for not attending, and no job takes credits away.
    walk.clock.advance(DAY)
    assert walk.expire().lots_expired == 0
    balances.append(walk.wallet(member, slug))
    # Friday and Saturday, then Sunday over the week's cap of 50.
    for name in ("leisure_check_in", "walking_group"):
        walk.clock.advance(DAY)
        earn(leisure if name == "leisure_check_in" else hub, event(name))
        balances.append(walk.wallet(member, slug))
    walk.clock.advance(DAY)
    walk.refused("POST", "/earnings", leisure, event("leisure_check_in"), 422, "limit-exceeded")
    walk.refused("POST", "/earnings", "scheme_manager", gp_session, 422, "limit-exceeded")
    balances.append(walk.wallet(member, slug))
    walk.clock.advance(DAY)  # Monday: a new week
    earn(leisure, event("leisure_check_in"))
    balances.append(walk.wallet(member, slug))
    assert balances == [0, 10, 20, 30, 30, 40, 50, 50, 60]
    assert balances == sorted(balances)  # never down without a spend

    # A rule that deducts credits cannot even be configured.
    penalty = demo_scheme(slug)["rules"]
    penalty["earning"]["missed_session"] = {"amount_minor": -10}
    walk.refused("PATCH", f"/schemes/{slug}", "scheme_manager", {"rules": penalty}, 422, "validation")
    assert walk.ok("GET", f"/schemes/{slug}", "auditor", status=200)["version"] == 1

    # Credits buy leisure access, only at the leisure centre; a spend is the only thing that lowers them.
    walk.refuse_redemption(hub, token, slug, 30, 403, "not-allowed-here")
    swim = walk.redeem(leisure, token, slug, 30)
    assert swim["remaining_in_scheme_minor"] == 30
    refund = walk.ok(
        "POST", f"/redemptions/{swim['transaction_id']}/refund", leisure, {"reason": "pool closed"}
    )
    assert refund["refund_window_days"] == 1 and walk.wallet(member, slug) == 60
    gym = walk.redeem(leisure, token, slug, 30)
    walk.clock.advance(dt.timedelta(days=1, seconds=1))
    walk.refused("POST", f"/redemptions/{gym['transaction_id']}/refund", leisure, {}, 410, "expired")
    assert walk.wallet(member, slug) == 30
    assert walk.budget(slug) == 1000 - 60
    walk.close_the_books()


def test_commuter_points_made_through_the_api_alone_are_earned_per_journey_and_spent_only_on_transport(
    walk: Walk,
) -> None:
    units = walk.ok("GET", "/units", "admin", status=200)["list"]
    assert {"code": "POINT", "decimals": 0} in [{k: u[k] for k in ("code", "decimals")} for u in units]
    slug = "commuter-points"
    scheme = walk.create_scheme(
        {
            "slug": slug,
            "name": "Commuter loyalty points",
            "unit": "POINT",
            "rules": {
                "issuing": {"mode": "earned"},
                "earning": {"journey": {"amount_minor": 5, "cap_per_day_minor": 20}},
                "spending": {"outlet_categories": ["transport"], "refund_window_days": 2},
                "expiry": {"days_after_issue": 180},
            },
        },
        who="admin",
    )
    assert scheme["rules"]["earning"]["journey"]["cap_per_day_minor"] == 20
    assert slug in [s["slug"] for s in walk.ok("GET", "/schemes", "auditor", status=200)["data"]]
    walk.fund(slug, 5000)
    _, station = walk.outlet("Riverside Bus Station", ["transport"], [slug])
    _, library = walk.outlet("Central Library", ["library"], [slug])

    commuter = walk.resident("Priya", date_of_birth="1996-11-11", postcode="RV1 4BS")
    walk.join(slug, commuter)
    token = walk.card(commuter)
    journey = {"scheme": slug, "event_type": "journey", "card_token": token}

    # Monday: four journeys earn 5 points each; the fifth is over the day's cap of 20.
    for _ in range(4):
        earned = walk.ok("POST", "/earnings", station, journey)
        assert (earned["credited_minor"], earned["unit"]) == (5, "POINT")
    walk.refused("POST", "/earnings", station, journey, 422, "limit-exceeded")
    walk.clock.advance(DAY)  # Tuesday: two more
    for _ in range(2):
        walk.ok("POST", "/earnings", station, journey)
    assert walk.wallet(commuter, slug) == 30

    walk.refuse_redemption(library, token, slug, 10, 403, "not-allowed-here")
    at_library = walk.entitlements(library, token)
    assert slug not in at_library  # the library kiosk is not even offered the points
    fare = walk.redeem(station, token, slug, 25)
    assert fare["remaining_in_scheme_minor"] == 5
    walk.refuse_redemption(station, token, slug, 6, 402, "insufficient-funds")
    refund = walk.ok(
        "POST", f"/redemptions/{fare['transaction_id']}/refund", station, {"reason": "bus cancelled"}
    )
    assert refund["refund_window_days"] == 2 and walk.wallet(commuter, slug) == 30
    ticket = walk.redeem(station, token, slug, 20)
    walk.clock.advance(dt.timedelta(days=3))
    walk.refused("POST", f"/redemptions/{ticket['transaction_id']}/refund", station, {}, 410, "expired")

    # Points unspent after 180 days go back to the budget.
    budget = walk.budget(slug)
    walk.clock.advance(181 * DAY)
    report = walk.expire()
    assert sum(report.returned_minor_by_scheme.values()) == 10
    assert walk.budget(slug) == budget + 10 == 5000 - 20
    walk.close_the_books()
