"""Shared by rule-checked writes: request-level idempotency, and who and where a request is about."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ledger.cards.token import CardKeyring
from ledger.errors import NotAllowedHere, NotEligible, NotFound, ValidationFailed
from ledger.places import Outlet
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.rules import Rules, parse_rules
from ledger.usecases.cards import resolve_card
from ledger.usecases.common import idempotent
from ledger.usecases.schemes import get_scheme

# Stored apart from the ledger flows' own records (scope = actor), so both live under one key.
REQUEST_SCOPE_SUFFIX = "#request"


def once(
    uow: UnitOfWork,
    *,
    actor: str,
    key: str,
    request: Mapping[str, Any],
    now: dt.datetime,
    operation: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Check rules and write once per key; a replay returns the stored response without re-checking."""
    return idempotent(
        uow, scope=actor + REQUEST_SCOPE_SUFFIX, key=key, request=request, now=now, operation=operation
    )


def receipt_data(receipt: Receipt) -> dict[str, Any]:
    """A receipt as JSON-ready data, each lot drawn on as {lot_account_id, amount_minor}."""
    data = receipt.to_dict()
    data["taken"] = [{"lot_account_id": lot, "amount_minor": amount} for lot, amount in receipt.taken]
    return data


def scheme_and_rules(uow: UnitOfWork, slug: str) -> tuple[dict[str, Any], Rules]:
    """A scheme by slug with its current rules parsed."""
    scheme = get_scheme(uow, slug)
    return scheme, parse_rules(scheme["rules"])


def resident_of(
    uow: UnitOfWork, *, resident_id: str | None, card_token: str | None, keyring: CardKeyring
) -> str:
    """The resident a request names, by id or by a scanned card (exactly one of them)."""
    if (resident_id is None) == (card_token is None):
        raise ValidationFailed("name the resident by resident_id or by card_token, not both")
    if card_token is not None:
        return str(resolve_card(uow, keyring=keyring, token=card_token)["resident_id"])
    assert resident_id is not None
    if uow.people.resident(resident_id) is None:
        raise NotFound(f"no resident {resident_id}")
    return resident_id


def require_member(uow: UnitOfWork, resident_id: str, scheme: Mapping[str, Any]) -> dict[str, Any]:
    """The resident's membership of the scheme, or NotEligible."""
    membership: dict[str, Any] | None = uow.people.membership(resident_id, scheme["id"])
    if membership is None:
        raise NotEligible(f"resident {resident_id} is not a member of {scheme['slug']}")
    return membership


def approves(outlet: Mapping[str, Any], scheme: Mapping[str, Any]) -> bool:
    """True when the outlet is approved for the scheme (the rule is Outlet.approves)."""
    return Outlet.from_record(outlet).approves_scheme(scheme["slug"], scheme["id"])


def outlet_for(uow: UnitOfWork, outlet_id: str) -> dict[str, Any]:
    """The calling device's outlet."""
    outlet: dict[str, Any] | None = uow.registry.outlet(outlet_id)
    if outlet is None:
        raise NotFound(f"no outlet {outlet_id}")
    return outlet


def require_approved(uow: UnitOfWork, outlet_id: str | None, scheme: Mapping[str, Any]) -> None:
    """A device may act only for schemes its outlet is approved for; staff (no outlet) anywhere."""
    if outlet_id is not None and not approves(outlet_for(uow, outlet_id), scheme):
        raise NotAllowedHere(f"this outlet is not approved for {scheme['slug']}")
