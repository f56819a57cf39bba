"""Scheme rules as data: eligibility, issuing, earning, spending, expiry; parsed and checked here."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.errors import ValidationFailed
from ledger.units import Unit, format_amount

PERIODS = ("day", "week", "month", "quarter", "year")
MAX_TOPUP_MINOR = 1_000_000  # £10,000: far above any top-up a council would allow, well inside Stripe's


@dataclasses.dataclass(frozen=True)
class Eligibility:
    """Who may join: an age band on a date, wards or postcode prefixes, a referral."""

    min_age: int | None = None
    max_age: int | None = None
    wards: tuple[str, ...] = ()
    postcode_prefixes: tuple[str, ...] = ()
    referral_required: bool = False
    resident_kinds: tuple[str, ...] = ("person", "household")


@dataclasses.dataclass(frozen=True)
class Issuing:
    """How value is issued: one-off, a recurring allowance, or a caseworker's series of purpose vouchers."""

    mode: str = "one_off"  # one_off, recurring, series, earned
    amount_minor: int | None = None
    period: str | None = None
    purposes: Mapping[str, int] = dataclasses.field(default_factory=dict)  # series: purpose -> default amount

    def allowance_period(self, at: dt.datetime, zone: dt.tzinfo) -> str | None:
        """The council's period a recurring allowance paid at `at` is for ("month:2026-11-01"), else None."""
        if self.mode != "recurring":
            return None
        return period_key(self.period or "month", at, zone)


@dataclasses.dataclass(frozen=True)
class EarningRule:
    """Credits for one kind of event, with caps."""

    amount_minor: int
    per_quantity: bool = False  # amount is per unit of quantity (e.g. minutes volunteered)
    cap_per_day_minor: int | None = None
    cap_per_week_minor: int | None = None
    cap_per_period_minor: int | None = None
    period: str = "month"
    collective: bool = False  # a street's reward: needs its members to beat the datum line
    datum_minor: int | None = None
    requires_role: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Spending:
    """Where and how value may be spent."""

    outlet_categories: tuple[str, ...] = ()
    purpose_categories: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    per_transaction_limit_minor: int | None = None
    per_day_limit_minor: int | None = None
    partial_spend: bool = True
    transferable: bool = False
    overdraft_floor_minor: int = 0
    refund_window_days: int = 14
    offline_floor_limit_minor: int = 0


@dataclasses.dataclass(frozen=True)
class Expiry:
    """When issued value expires: a fixed date, or N days after issue, or never."""

    fixed_date: dt.date | None = None
    days_after_issue: int | None = None

    def expires_at(self, issued_at: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
        """The expiry instant for value issued at `issued_at`, in the council's days (`zone`)."""
        if self.days_after_issue is not None:
            return add_days(issued_at, self.days_after_issue, zone)
        if self.fixed_date is not None:  # the end of that day where the council is
            return dt.datetime.combine(self.fixed_date, dt.time.max, tzinfo=zone).astimezone(dt.UTC)
        return None


@dataclasses.dataclass(frozen=True)
class TopUps:
    """Whether money may be added to a member's wallet through Stripe Checkout, and how much at a time."""

    accepted: bool = False
    min_minor: int = 100
    max_minor: int = 10_000
    cap_per_month_minor: int | None = None  # per card (its resident), pending and completed top-ups

    def check_amount(self, amount_minor: int, added_this_month_minor: int) -> str | None:
        """Why this top-up is refused (for people to read), or None when the rules allow it."""
        if amount_minor < self.min_minor:
            return f"the smallest top-up is {format_amount(self.min_minor, Unit.GBP)}"
        if amount_minor > self.max_minor:
            return f"the largest top-up is {format_amount(self.max_minor, Unit.GBP)}"
        cap = self.cap_per_month_minor
        if cap is not None and added_this_month_minor + amount_minor > cap:
            left = max(0, cap - added_this_month_minor)
            return (
                f"at most {format_amount(cap, Unit.GBP)} may be added to a card in a month; "
                f"{format_amount(left, Unit.GBP)} is left this month"
            )
        return None


@dataclasses.dataclass(frozen=True)
class Rules:
    """A scheme's complete rule set at one version."""

    eligibility: Eligibility
    issuing: Issuing
    earning: Mapping[str, EarningRule]
    spending: Spending
    expiry: Expiry
    topups: TopUps = TopUps()


def _section(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise ValidationFailed(f"rules.{name} must be an object")
    return dict(value)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValidationFailed(f"rules.{where}: unknown field {sorted(unknown)[0]}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**converted)


def parse_rules(raw: Mapping[str, Any], unit: Unit | None = None) -> Rules:
    """Turn rules data into Rules, refusing contradictions with a clear message (and, given the scheme's
    unit, rules that unit cannot have: top-ups are pounds)."""
    spending = _section(raw, "spending")
    purposes = spending.get("purpose_categories") or {}
    spending["purpose_categories"] = {k: tuple(v) for k, v in dict(purposes).items()}
    expiry = _section(raw, "expiry")
    if expiry.get("fixed_date") is not None:
        expiry["fixed_date"] = dt.date.fromisoformat(str(expiry["fixed_date"]))
    earning = {
        name: _build(EarningRule, dict(rule), f"earning.{name}")
        for name, rule in _section(raw, "earning").items()
    }
    rules = Rules(
        eligibility=_build(Eligibility, _section(raw, "eligibility"), "eligibility"),
        issuing=_build(Issuing, _section(raw, "issuing"), "issuing"),
        earning=earning,
        spending=_build(Spending, spending, "spending"),
        expiry=_build(Expiry, expiry, "expiry"),
        topups=_build(TopUps, _section(raw, "topups"), "topups"),
    )
    _check(rules)
    _check_topups(rules.topups)
    if unit is not None and unit is not Unit.GBP and rules.topups.accepted:
        raise ValidationFailed("rules.topups: only schemes in pounds (GBP) accept top-ups")
    return rules


def _check(rules: Rules) -> None:
    band = rules.eligibility
    if band.min_age is not None and band.max_age is not None and band.min_age > band.max_age:
        raise ValidationFailed("rules.eligibility: min_age is above max_age")
    if rules.spending.overdraft_floor_minor > 0:
        raise ValidationFailed("rules.spending.overdraft_floor_minor is zero or negative")
    if rules.expiry.fixed_date is not None and rules.expiry.days_after_issue is not None:
        raise ValidationFailed("rules.expiry: choose a fixed date or days after issue, not both")
    if rules.issuing.period is not None and rules.issuing.period not in PERIODS:
        raise ValidationFailed(f"rules.issuing.period is one of {', '.join(PERIODS)}")
    for name, rule in rules.earning.items():
        if rule.amount_minor <= 0:
            raise ValidationFailed(
                f"rules.earning.{name}.amount_minor is positive: credits are never deducted"
            )
        if rule.period not in PERIODS:
            raise ValidationFailed(f"rules.earning.{name}.period is one of {', '.join(PERIODS)}")


def _check_topups(topups: TopUps) -> None:
    """Field by field: each limit a whole number of pence, in order (min ≤ max ≤ the monthly cap)."""
    if type(topups.accepted) is not bool:
        raise ValidationFailed("rules.topups.accepted is true or false")
    limits = {"min_minor": topups.min_minor, "max_minor": topups.max_minor}
    if topups.cap_per_month_minor is not None:
        limits["cap_per_month_minor"] = topups.cap_per_month_minor
    for name, value in limits.items():
        if type(value) is not int or not 0 < value <= MAX_TOPUP_MINOR:
            raise ValidationFailed(
                f"rules.topups.{name} is a whole number of pence from 1 to {MAX_TOPUP_MINOR}"
            )
    if topups.min_minor > topups.max_minor:
        raise ValidationFailed("rules.topups: min_minor is above max_minor")
    if topups.cap_per_month_minor is not None and topups.cap_per_month_minor < topups.max_minor:
        raise ValidationFailed("rules.topups: cap_per_month_minor is below max_minor")


def age_on(date_of_birth: dt.date, on: dt.date) -> int:
    """Age in whole years on a date."""
    years = on.year - date_of_birth.year
    return years - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))


def local_date(at: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """The council's date at an instant (its calendar, not UTC's)."""
    return at.astimezone(zone).date()


def add_days(at: dt.datetime, days: int, zone: dt.tzinfo) -> dt.datetime:
    """The same wall-clock time `days` council days later (a day across a clock change is 23 or 25 h)."""
    # Arithmetic on an aware datetime in one zone is wall-clock arithmetic; converting back finds the instant.
    return (at.astimezone(zone) + dt.timedelta(days=days)).astimezone(dt.UTC)


def _period_first_day(period: str, on: dt.date) -> dt.date:
    if period == "day":
        return on
    if period == "week":
        return on - dt.timedelta(days=on.weekday())
    if period == "month":
        return on.replace(day=1)
    if period == "quarter":
        return on.replace(month=3 * ((on.month - 1) // 3) + 1, day=1)
    assert period == "year", f"unknown period {period}"
    return on.replace(month=1, day=1)


def period_start(period: str, at: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The instant (UTC) the council's calendar period containing `at` began; weeks start on Monday."""
    first_day = _period_first_day(period, local_date(at, zone))
    return dt.datetime.combine(first_day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)


def period_key(period: str, at: dt.datetime, zone: dt.tzinfo) -> str:
    """A stable name for the council's period containing `at`, e.g. "month:2026-11-01"."""
    return f"{period}:{_period_first_day(period, local_date(at, zone)).isoformat()}"
