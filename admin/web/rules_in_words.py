"""A scheme's rules in words, as a scheme manager would explain them, and what changed between versions."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ledger.rules import EarningRule, Rules, parse_rules
from ledger.units import Unit, format_amount

ROLE_WORDS = {
    "device": "a kiosk",
    "scheme_manager": "a scheme manager",
    "caseworker": "a caseworker",
    "admin": "an administrator",
}
_BACK_TO_BUDGET = "what is left goes back to the budget."
KIND_WORDS = {"person": "people", "household": "households", "collective": "streets"}


@dataclasses.dataclass(frozen=True)
class Section:
    """One part of the rules: a heading and its sentences."""

    heading: str
    lines: tuple[str, ...]


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _listed(items: Any, last: str = "and") -> str:
    words = [str(item) for item in items]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _who(rules: Rules) -> tuple[str, ...]:
    band = rules.eligibility
    if band.min_age is not None and band.max_age is not None:
        age = f"Aged {band.min_age} to {band.max_age}."
    elif band.min_age is not None:
        age = f"Aged {band.min_age} or over."
    elif band.max_age is not None:
        age = f"Aged {band.max_age} or under."
    else:
        age = "Any age."
    lines = [f"{_listed(KIND_WORDS.get(k, k) for k in band.resident_kinds).capitalize()} may join.", age]
    lines.append(f"Living in {_listed(band.wards, 'or')}." if band.wards else "In any ward.")
    if band.postcode_prefixes:
        lines.append(f"Postcodes starting {_listed(band.postcode_prefixes, 'or')}.")
    lines.append("A referral is needed to join." if band.referral_required else "No referral is needed.")
    return tuple(lines)


def _issuing(rules: Rules, unit: Unit) -> tuple[str, ...]:
    issuing = rules.issuing
    standard = (
        f" The standard amount is {format_amount(issuing.amount_minor, unit)}."
        if issuing.amount_minor is not None
        else ""
    )
    if issuing.mode == "recurring":
        lines = [f"A recurring allowance, paid each {issuing.period or 'month'}.{standard}"]
    elif issuing.mode == "series":
        lines = ["A series of vouchers, one for each purpose."]
        lines += [
            f"{p.replace('-', ' ').capitalize()}: {format_amount(a, unit)}."
            for p, a in issuing.purposes.items()
        ]
    elif issuing.mode == "earned":
        lines = ["Only earned, by the events below; never issued by staff."]
    else:
        lines = [f"One-off amounts, issued by staff.{standard}"]
    return tuple(lines)


def _earning_line(event: str, rule: EarningRule, unit: Unit) -> str:
    credit = format_amount(rule.amount_minor, unit)
    line = (
        f"{event}: {credit} for each unit of quantity"
        if rule.per_quantity
        else f"{event}: {credit} each time"
    )
    if rule.collective:
        datum = format_amount(rule.datum_minor or 0, unit)
        line = f"{event}: a street's reward of {credit} when its households earn {datum} in a {rule.period}"
    caps = [
        f"{format_amount(cap, unit)} a {span}"
        for cap, span in (
            (rule.cap_per_day_minor, "day"),
            (rule.cap_per_week_minor, "week"),
            (rule.cap_per_period_minor, rule.period),
        )
        if cap is not None
    ]
    if caps:
        line += f", at most {_listed(caps)}"
    if rule.requires_role:
        line += f"; confirmed only by {_listed((ROLE_WORDS.get(r, r) for r in rule.requires_role), 'or')}"
    return line + "."


def _spending(rules: Rules, unit: Unit) -> tuple[str, ...]:
    spending = rules.spending
    where = spending.outlet_categories
    lines = [f"At outlets in these categories: {_listed(where)}." if where else "At no outlet yet."]
    lines += [
        f"{p.replace('-', ' ').capitalize()} vouchers only at {_listed(c, 'or')}."
        for p, c in spending.purpose_categories.items()
    ]
    if spending.per_transaction_limit_minor is not None:
        lines.append(f"At most {format_amount(spending.per_transaction_limit_minor, unit)} in one spend.")
    if spending.per_day_limit_minor is not None:
        lines.append(f"At most {format_amount(spending.per_day_limit_minor, unit)} a day.")
    lines.append(
        "Part of a voucher may be spent." if spending.partial_spend else "A voucher is spent in full."
    )
    lines.append(
        "Members may give value to each other."
        if spending.transferable
        else "Value cannot be given to someone else."
    )
    if spending.overdraft_floor_minor < 0:
        lines.append(f"Members may go down to {format_amount(spending.overdraft_floor_minor, unit)}.")
    lines.append(f"Outlets may refund a spend within {_days(spending.refund_window_days)}.")
    offline = spending.offline_floor_limit_minor
    lines.append(
        f"Up to {format_amount(offline, unit)} a day on a card while a kiosk is offline."
        if offline
        else "Nothing may be spent while a kiosk is offline."
    )
    return tuple(lines)


def _expiry(rules: Rules) -> tuple[str, ...]:
    expiry = rules.expiry
    if expiry.days_after_issue is not None:
        return (f"Value expires {expiry.days_after_issue} days after it is issued; {_BACK_TO_BUDGET}",)
    if expiry.fixed_date is not None:
        day = expiry.fixed_date
        return (f"Value expires at the end of {day.day} {day:%B %Y}; {_BACK_TO_BUDGET}",)
    return ("Value never expires.",)


def _topups(rules: Rules) -> tuple[str, ...]:
    topups = rules.topups
    smallest, largest = format_amount(topups.min_minor, Unit.GBP), format_amount(topups.max_minor, Unit.GBP)
    lines = [f"Money may be added to a card by card payment, from {smallest} to {largest} at a time."]
    if topups.cap_per_month_minor is not None:
        lines.append(f"At most {format_amount(topups.cap_per_month_minor, Unit.GBP)} a month on one card.")
    return tuple(lines)


def rules_in_words(rules_data: Mapping[str, Any], unit: Unit | str) -> list[Section]:
    """The rules as sections of plain sentences, amounts in the scheme's unit."""
    rules, unit = parse_rules(rules_data), Unit(unit)
    sections = [Section("Who may join", _who(rules)), Section("How value is issued", _issuing(rules, unit))]
    if rules.earning:
        lines = tuple(_earning_line(event, rule, unit) for event, rule in rules.earning.items())
        sections.append(Section("Earning", lines))
    sections.append(Section("Where and how it is spent", _spending(rules, unit)))
    sections.append(Section("Expiry", _expiry(rules)))
    if rules.topups.accepted:
        sections.append(Section("Top-ups", _topups(rules)))
    return sections


def rule_changes(before: Mapping[str, Any], after: Mapping[str, Any], unit: Unit | str) -> list[str]:
    """What a new version changed, in words: the sentences it added, then those it dropped."""
    old = [line for section in rules_in_words(before, unit) for line in section.lines]
    new = [line for section in rules_in_words(after, unit) for line in section.lines]
    added = [f"Now: {line}" for line in new if line not in old]
    dropped = [f"No longer: {line}" for line in old if line not in new]
    return added + dropped
