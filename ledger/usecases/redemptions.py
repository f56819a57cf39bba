"""Spending at an outlet under the scheme's rules: redeem, refund within the window, and two-phase holds."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from ledger.cards.token import CardKeyring
from ledger.clock import rfc3339
from ledger.errors import Expired, NotAllowedHere, NotFound, RetryableConflict, ValidationFailed
from ledger.places import Outlet, Scheme, payable_account_name
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.records import LotRecord
from ledger.rules import Rules, add_days, parse_rules
from ledger.units import AccountKind, Unit
from ledger.usecases import flows, holds
from ledger.usecases.cards import resolve_card
from ledger.usecases.common import ensure_account
from ledger.usecases.requests import once, outlet_for, receipt_data
from ledger.usecases.schemes import get_scheme
from ledger.usecases.spending import plan_under_rules
from ledger.wallets import after_taking, available_to_spend

DEFAULT_HOLD_TIMEOUT_SECONDS = 900


@dataclasses.dataclass(frozen=True)
class SpendRequest:
    """A spend asked for at a kiosk: the scanned card, the amount, and the scheme or unit."""

    card_token: str
    amount_minor: int
    outlet_id: str
    scheme: str | None = None
    unit: str | None = None


@dataclasses.dataclass(frozen=True)
class PreparedSpend:
    """A spend that passed every rule: whose wallet, which scheme, which lots, paid into which account."""

    owner_id: str
    card_number: str
    scheme: dict[str, Any]
    categories: frozenset[str]
    plan: list[tuple[str, int]]
    lots: list[LotRecord]
    payable_account_id: str


def payable_account(uow: UnitOfWork, outlet_id: str, unit: str, now: dt.datetime) -> str:
    """The outlet's payable account in a unit (no floor: credited lock-free)."""
    name = payable_account_name(outlet_id, unit)
    existing = uow.accounts.by_name(name)
    if existing is not None:
        return str(existing.id)
    uow.activity.lock(f"account:{name}")  # first spend here: concurrent first spends open it once
    return ensure_account(
        uow,
        name=name,
        unit=Unit(unit),
        kind=AccountKind.PAYABLE,
        floor_minor=None,
        now=now,
    ).id


def _choose_scheme(
    uow: UnitOfWork, outlet: dict[str, Any], owner_id: str, request: SpendRequest, now: dt.datetime
) -> dict[str, Any]:
    if request.scheme is not None:
        scheme = get_scheme(uow, request.scheme)
        if request.unit is not None and request.unit != scheme["unit"]:
            raise ValidationFailed(f"{scheme['slug']} is in {scheme['unit']}, not {request.unit}")
        return scheme
    if request.unit is None:
        raise ValidationFailed("give the scheme or the unit to spend")
    candidates, here = [], Outlet.from_record(outlet)
    for membership in uow.people.memberships_of(owner_id):
        scheme = uow.schemes.get(id=membership["scheme_id"])
        place = Scheme.from_record(scheme)
        if scheme["unit"] == request.unit and place.may_be_spent_at(here):
            candidates.append((scheme, place.lot_categories_at(here)))
    if not candidates:
        raise NotAllowedHere(f"nothing in {request.unit} on this card may be spent here")
    candidates.sort(key=lambda item: item[0]["slug"])
    for scheme, categories in candidates:  # the first scheme (by slug) that can cover the amount here
        lots, _ = holds.as_released(uow, uow.lots.wallet(owner_id, scheme["id"]), owner_id, scheme["id"], now)
        if available_to_spend(lots, now, categories) >= request.amount_minor:
            return scheme
    return candidates[0][0]


@dataclasses.dataclass(frozen=True)
class SpendPlace:
    """What the reads before the wallet lock decide: whose wallet, which scheme and rules, which lots here."""

    owner_id: str
    card_number: str
    scheme: dict[str, Any]
    rules: Rules
    categories: frozenset[str]
    unit: Unit


def place_spend(
    uow: UnitOfWork,
    request: SpendRequest,
    keyring: CardKeyring,
    now: dt.datetime,
    *,
    outlet: dict[str, Any] | None = None,
    scheme: dict[str, Any] | None = None,
    card: dict[str, Any] | None = None,
    rules: Rules | None = None,
) -> SpendPlace:
    """Check a spend against the card, the outlet and where the scheme may be spent (no lock yet).

    A batch passes the outlet, the named scheme, its parsed `rules` and the card (`card_named_by`) it read
    for all at once."""
    flows.positive_amount(request.amount_minor)
    outlet = outlet if outlet is not None else outlet_for(uow, request.outlet_id)
    card = card if card is not None else resolve_card(uow, keyring=keyring, token=request.card_token)
    owner_id = str(card["resident_id"])
    if scheme is None or request.scheme is None:
        scheme = _choose_scheme(uow, outlet, owner_id, request, now)
    elif request.unit is not None and request.unit != scheme["unit"]:
        raise ValidationFailed(f"{scheme['slug']} is in {scheme['unit']}, not {request.unit}")
    if rules is None or request.scheme is None:
        rules = parse_rules(scheme["rules"])
    place, here = Scheme.from_record(scheme, rules.spending), Outlet.from_record(outlet)
    place.require_spendable_at(here)
    categories = place.lot_categories_at(here)
    return SpendPlace(owner_id, card["number"], scheme, rules, categories, Unit(scheme["unit"]))


def plan_wallet_spend(
    place: SpendPlace,
    amount_minor: int,
    lots: Sequence[LotRecord],
    spent_today_minor: int,
    now: dt.datetime,
    zone: dt.tzinfo,
) -> list[tuple[str, int]]:
    """The one planner of a spend: limits, then which lots (earliest expiry first), then whole-lot rules.

    Both the single path and a batch call it on the locked wallet (a batch on the wallet as its earlier
    batch-mates left it), so every rule of a spend is decided here and only here. `zone` is the council's,
    for the days a refusal names."""
    return plan_under_rules(
        place.rules.spending,
        amount_minor,
        lots,
        spent_today_minor=spent_today_minor,
        now=now,
        categories=place.categories,
        unit=place.unit,
        zone=zone,
    )


def prepare_spend(
    uow: UnitOfWork, request: SpendRequest, keyring: CardKeyring, now: dt.datetime, zone: dt.tzinfo
) -> PreparedSpend:
    """Check a spend against the card, the outlet and the scheme's spending rules; lock the wallet."""
    place = place_spend(uow, request, keyring, now)
    scheme = place.scheme
    uow.activity.lock_wallet(place.owner_id, scheme["id"])
    lots = holds.locked_wallet(
        uow, place.owner_id, scheme["id"], now
    )  # before "spent today": a release counts
    spent = uow.activity.spent_on_day(
        place.owner_id, scheme["id"], now
    )  # one counter row, kept by each spend
    plan = plan_wallet_spend(place, request.amount_minor, lots, spent, now, zone)
    payable = payable_account(uow, request.outlet_id, scheme["unit"], now)
    return PreparedSpend(place.owner_id, place.card_number, scheme, place.categories, plan, lots, payable)


def spend_body(receipt: Receipt, prepared: PreparedSpend, outlet_id: str, now: dt.datetime) -> dict[str, Any]:
    """The answer to a spend: its receipt, what it drew from which lots, and what is left here and in all."""
    if list(receipt.taken) != prepared.plan:
        raise RetryableConflict("the wallet changed while the spend was being checked")
    lots = {lot.account_id: lot for lot in prepared.lots}
    taken = []
    for account_id, amount in receipt.taken:
        lot = lots[account_id]
        expires_at = None if lot.expires_at is None else rfc3339(lot.expires_at)
        taken.append(
            {
                "lot_account_id": account_id,
                "amount_minor": amount,
                "category": lot.category,
                "expires_at": expires_at,
            }
        )
    return {
        **receipt_data(receipt),
        "taken": taken,
        # Left to spend at this outlet in this scheme, and the whole wallet in this scheme (lots of other
        # purposes included), each after this spend.
        "remaining_here_minor": available_to_spend(
            after_taking(prepared.lots, receipt.taken), now, prepared.categories
        ),
        "remaining_in_scheme_minor": receipt.balance_after_minor,
        "scheme": prepared.scheme["slug"],
        "outlet_id": outlet_id,
        "card_number": prepared.card_number,
        "rule_version": prepared.scheme["version"],
    }


def redeem(
    uow: UnitOfWork,
    *,
    request: SpendRequest,
    keyring: CardKeyring,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: str,
    key: str,
) -> dict[str, Any]:
    """Spend from a card's wallet at the calling outlet, earliest-expiring eligible lots first."""

    def operation() -> dict[str, Any]:
        # One idempotency record (this one), one locked wallet read (in prepare_spend), one plan.
        prepared = prepare_spend(uow, request, keyring, now, zone)
        posted = flows.draw(
            uow,
            prepared.scheme,
            prepared.owner_id,
            request.amount_minor,
            prepared.payable_account_id,
            prepared.categories,
            now,
            kind="redeem",
            actor=actor,
            key=key,
            outlet_id=request.outlet_id,
            metadata=None,
            zone=zone,
            lots=prepared.lots,
        )
        return spend_body(Receipt.from_dict(posted), prepared, request.outlet_id, now)

    return once(
        uow, actor=actor, key=key, request=redemption_fingerprint(request), now=now, operation=operation
    )


def redemption_fingerprint(request: SpendRequest) -> dict[str, Any]:
    """What a redemption's idempotency key is bound to: a replay must ask for exactly this again."""
    return {"op": "redemption", **_spend_fields(request)}


def _spend_fields(request: SpendRequest) -> dict[str, Any]:
    # Field by field rather than dataclasses.asdict (which deep-copies): this runs once per spend.
    return {
        "card_token": request.card_token,
        "amount_minor": request.amount_minor,
        "outlet_id": request.outlet_id,
        "scheme": request.scheme,
        "unit": request.unit,
    }


def refund(
    uow: UnitOfWork,
    *,
    transaction_id: str,
    outlet_id: str | None,
    reason: str,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: str,
    key: str,
) -> dict[str, Any]:
    """Reverse a redemption within its scheme's refund window (council days); a device at its own outlet."""

    def operation() -> dict[str, Any]:
        original = uow.journal.get(transaction_id)
        if original is None or original.kind != "redeem":
            raise NotFound(f"no redemption {transaction_id}")
        if outlet_id is not None and original.outlet_id != outlet_id:
            raise NotFound(f"no redemption {transaction_id} at this outlet")
        rules = None
        if original.rule_version is not None:
            rules = uow.activity.rules_at_version(original.scheme_id, original.rule_version)
        rules = rules if rules is not None else get_scheme_rules(uow, original.scheme_id)
        window = parse_rules(rules).spending.refund_window_days
        if now > add_days(original.recorded_at, window, zone):
            raise Expired(f"the refund window of {window} days has closed")
        receipt = flows.reverse(
            uow, transaction_id=transaction_id, now=now, actor=actor, key=key, reason=reason, kind="refund"
        )
        return {**receipt_data(receipt), "outlet_id": original.outlet_id, "refund_window_days": window}

    fingerprint = {"op": "refund", "transaction": transaction_id, "reason": reason}
    return once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)


def get_scheme_rules(uow: UnitOfWork, scheme_id: str) -> dict[str, Any]:
    """A scheme's current rules by id."""
    scheme = uow.schemes.get(id=scheme_id)
    if scheme is None:
        raise NotFound(f"no scheme {scheme_id}")
    return dict(scheme["rules"])


def place_hold(
    uow: UnitOfWork,
    *,
    request: SpendRequest,
    timeout_seconds: int,
    keyring: CardKeyring,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: str,
    key: str,
) -> dict[str, Any]:
    """Reserve a spend at the calling outlet under the same rules as a redemption, until capture or void."""

    def operation() -> dict[str, Any]:
        prepared = prepare_spend(uow, request, keyring, now, zone)
        posted = holds.hold_funds(
            uow,
            scheme=prepared.scheme,
            wallet=holds.HeldWallet(prepared.owner_id, prepared.categories, prepared.lots, prepared.plan),
            amount_minor=request.amount_minor,
            payable_account_id=prepared.payable_account_id,
            timeout_seconds=timeout_seconds,
            now=now,
            actor=actor,
            key=key,
            outlet_id=request.outlet_id,
            zone=zone,
        )
        receipt = Receipt.from_dict(posted)
        body = spend_body(receipt, prepared, request.outlet_id, now)
        expires = rfc3339(now + dt.timedelta(seconds=timeout_seconds))
        return {**body, "status": "pending", "expires_at": expires}

    fingerprint = {"op": "hold", "timeout_seconds": timeout_seconds, **_spend_fields(request)}
    return once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)


def resolve(
    uow: UnitOfWork,
    *,
    hold_id: str,
    capture_minor: int,
    outlet_id: str,
    now: dt.datetime,
    actor: str,
    key: str,
) -> dict[str, Any]:
    """Capture part or all of a hold (the rest goes back to the wallet), or void it with zero."""
    outcome = "captured" if capture_minor > 0 else "voided"
    resolution = holds.resolve_hold(
        uow,
        hold_id=hold_id,
        capture_minor=capture_minor,
        now=now,
        actor=actor,
        key=key,
        outcome=outcome,
        outlet_id=outlet_id,
    )
    returned_to = [{"lot_account_id": lot, "amount_minor": amount} for lot, amount in resolution.returned_to]
    return {
        **resolution.to_dict(),
        "amount_minor": resolution.captured_minor,
        "returned_to": returned_to,
        "status": outcome,
        "outlet_id": outlet_id,
    }
