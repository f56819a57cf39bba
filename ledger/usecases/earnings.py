"""Earning events: credits from the budget after the caps; collective rewards for beating the datum line."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.cards.token import CardKeyring
from ledger.clock import rfc3339
from ledger.errors import Forbidden, LimitExceeded, RuleViolation, ValidationFailed
from ledger.kinds import TransactionKind
from ledger.ports import UnitOfWork
from ledger.rules import EarningRule, period_start
from ledger.units import Unit, format_amount
from ledger.usecases import flows
from ledger.usecases.requests import (
    once,
    receipt_data,
    require_approved,
    require_member,
    resident_of,
    scheme_and_rules,
)

MAX_QUANTITY = 1_000_000


@dataclasses.dataclass(frozen=True)
class EarningEvent:
    """An earning event as reported: by whom (resident id or card), what happened, how much of it."""

    scheme: str
    event_type: str
    resident_id: str | None = None
    card_token: str | None = None
    quantity: int | None = None


def requested_amount(rule: EarningRule, quantity: int | None) -> int:
    """The credit an event asks for before caps: amount, times quantity when per quantity."""
    if not rule.per_quantity:
        return rule.amount_minor
    if quantity is None:
        raise ValidationFailed("this event earns per unit of quantity: give quantity")
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed(f"quantity is an integer from 1 to {MAX_QUANTITY}")
    return rule.amount_minor * quantity


def room_under_caps(
    uow: UnitOfWork, rule: EarningRule, owner_id: str, scheme_id: str, now: dt.datetime, zone: dt.tzinfo
) -> int | None:
    """What the owner may still earn in this scheme now under the rule's caps (None: uncapped)."""
    # Caps count everything the owner earned in the scheme, whichever event type earned it, so alternative
    # qualifying activities earn equally but never add up beyond the cap.
    caps = [
        (rule.cap_per_day_minor, "day"),
        (rule.cap_per_week_minor, "week"),
        (rule.cap_per_period_minor, rule.period),
    ]
    room: int | None = None
    for cap, period in caps:
        if cap is None:
            continue
        left = cap - uow.activity.earned(owner_id, scheme_id, period_start(period, now, zone))
        room = left if room is None else min(room, left)
    return None if room is None else max(0, room)


def caps_text(rule: EarningRule, unit: Unit) -> str:
    """A rule's caps as people read them: "10 points a day, 50 points a week"."""
    caps = [(rule.cap_per_day_minor, "day"), (rule.cap_per_week_minor, "week")]
    caps.append((rule.cap_per_period_minor, rule.period))
    return ", ".join(f"{format_amount(cap, unit)} a {period}" for cap, period in caps if cap is not None)


def cap_reached(rule: EarningRule, event_type: str, requested_minor: int, unit: Unit) -> LimitExceeded:
    """The refusal of an event that earns nothing more now: which caps, in the scheme's unit."""
    return LimitExceeded(
        f"the earning cap for {event_type} is reached for now ({caps_text(rule, unit)})",
        requested_minor=requested_minor,
        unit=unit.value,
    )


def check_collective(
    uow: UnitOfWork,
    rule: EarningRule,
    event_type: str,
    owner: Mapping[str, Any],
    scheme: Mapping[str, Any],
    now: dt.datetime,
    zone: dt.tzinfo,
) -> dict[str, Any]:
    """A collective reward needs a collective whose members beat the datum line, once per period."""
    if owner["kind"] != "collective":
        raise RuleViolation(f"{event_type} rewards a collective (a street), not a {owner['kind']}")
    since = period_start(rule.period, now, zone)
    members_earned = uow.activity.earned_by_members(owner["id"], scheme["id"], since)
    datum = rule.datum_minor or 0
    if members_earned < datum:
        unit = Unit(scheme["unit"])
        raise RuleViolation(
            f"the members earned {format_amount(members_earned, unit)} this {rule.period}, "
            f"below the datum line of {format_amount(datum, unit)}",
            members_earned_minor=members_earned,
            datum_minor=datum,
            unit=unit.value,
        )
    if uow.activity.earned(owner["id"], scheme["id"], since, event_type=event_type) > 0:
        raise RuleViolation(f"this collective already received {event_type} this {rule.period}")
    return {"members_earned_minor": members_earned, "datum_minor": datum}


def earn(
    uow: UnitOfWork,
    *,
    event: EarningEvent,
    role: str,
    outlet_id: str | None,
    keyring: CardKeyring,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: str,
    key: str,
) -> dict[str, Any]:
    """Credit an earning event after the caps (the council's days and weeks); never deducted."""

    def operation() -> dict[str, Any]:
        scheme, rules = scheme_and_rules(uow, event.scheme)
        rule = rules.earning.get(event.event_type)
        if rule is None:
            raise RuleViolation(f"{scheme['slug']} has no earning rule for {event.event_type}")
        if rule.requires_role and role not in rule.requires_role:
            raise Forbidden(f"{event.event_type} must be confirmed by {' or '.join(rule.requires_role)}")
        require_approved(uow, outlet_id, scheme)
        if outlet_id is not None and event.card_token is None:
            # A kiosk credits whoever presents the card, never someone named by id who is not there.
            raise Forbidden("at a kiosk the resident presents their card (card_token)")
        owner_id = resident_of(
            uow, resident_id=event.resident_id, card_token=event.card_token, keyring=keyring
        )
        require_member(uow, owner_id, scheme)
        requested = requested_amount(rule, event.quantity)
        uow.activity.lock_wallet(owner_id, scheme["id"])
        metadata: dict[str, Any] = {"event_type": event.event_type, "requested_minor": requested}
        if event.quantity is not None:
            metadata["quantity"] = event.quantity
        if rule.collective:
            owner = uow.people.resident(owner_id)
            metadata.update(check_collective(uow, rule, event.event_type, owner, scheme, now, zone))
        room = room_under_caps(uow, rule, owner_id, scheme["id"], now, zone)
        credit = requested if room is None else min(requested, room)
        if credit <= 0:
            raise cap_reached(rule, event.event_type, requested, Unit(scheme["unit"]))
        expires_at = rules.expiry.expires_at(now, zone)
        receipt = flows.issue(
            uow,
            scheme=scheme,
            owner_id=owner_id,
            amount_minor=credit,
            now=now,
            actor=actor,
            key=key,
            expires_at=expires_at,
            kind=TransactionKind.EARN,
            metadata=metadata,
            outlet_id=outlet_id,
        )
        return {
            **receipt_data(receipt),
            "scheme": scheme["slug"],
            "resident_id": owner_id,
            "event_type": event.event_type,
            "requested_minor": requested,
            "credited_minor": credit,
            "capped": credit < requested,
            "expires_at": expires_at and rfc3339(expires_at),
            "rule_version": scheme["version"],
        }

    fingerprint = {"op": "earning", **dataclasses.asdict(event)}
    return once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)
