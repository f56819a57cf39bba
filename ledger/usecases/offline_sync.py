"""Offline redemptions synced by a kiosk: what the wallet covers is spent, the rest comes from offline risk.

A kiosk that lost the network checked the card itself and handed over the goods, up to the scheme's
offline floor limit. When it syncs, the outlet is paid in full whatever happened to the wallet meanwhile:
the wallet pays what it still can (earliest-expiring lots first), the scheme's offline-risk account pays
the difference, and the difference is recorded as a shortfall for staff. Each redemption is synced under
the kiosk's own idempotency key, so a retry, a crash or a kill -9 never applies it twice; a key the kiosk
already used for an online redemption that reached the server is answered as "applied online".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from ledger.cards.token import CardKeyring, InvalidCardToken
from ledger.clock import rfc3339
from ledger.errors import (
    DatabaseUnavailable,
    InvalidToken,
    LedgerError,
    LimitExceeded,
    ValidationFailed,
)
from ledger.kinds import TransactionKind
from ledger.places import Outlet, Scheme
from ledger.ports import UnitOfWork
from ledger.rules import parse_rules
from ledger.units import AccountKind, Unit, format_amount
from ledger.usecases import flows
from ledger.usecases.common import draft, ensure_account, new_id, record, transfer_lines
from ledger.usecases.redemptions import payable_account
from ledger.usecases.requests import REQUEST_SCOPE_SUFFIX, once, outlet_for
from ledger.usecases.schemes import get_scheme
from ledger.wallets import available_to_spend

# A kiosk's clock may run a little ahead of the server's; anything further ahead is not a past spend.
CLOCK_SKEW_ALLOWANCE = dt.timedelta(minutes=10)
SHORTFALL_KIND = TransactionKind.OFFLINE_SHORTFALL
MAX_BATCH_SIZE = 100


@dataclasses.dataclass(frozen=True)
class OfflineRedemption:
    """A spend a kiosk accepted while offline: the scanned card, scheme, amount, and when it happened."""

    card_token: str
    scheme: str
    amount_minor: int
    outlet_id: str
    occurred_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class OfflineSyncResult:
    """What syncing one offline redemption did: posted, posted-with-shortfall or applied-online."""

    outcome: str
    scheme: str
    unit: str
    card_number: str
    outlet_id: str
    amount_minor: int
    covered_minor: int
    shortfall_minor: int
    occurred_at: str
    recorded_at: str
    redemption_transaction_id: str | None = None
    shortfall_transaction_id: str | None = None
    shortfall_id: str | None = None
    shortfall_reason: str | None = None


@dataclasses.dataclass(frozen=True)
class OfflineScheme:
    """What a kiosk needs to know about one scheme to accept it offline."""

    scheme: str
    name: str
    unit: str
    offline_floor_limit_minor: int
    refund_window_days: int


@dataclasses.dataclass(frozen=True)
class OfflineProfile:
    """The outlet a device belongs to and the schemes it may accept, with their offline floor limits."""

    outlet_id: str
    outlet_name: str
    schemes: tuple[OfflineScheme, ...]


def offline_profile(uow: UnitOfWork, *, outlet_id: str) -> OfflineProfile:
    """The schemes this outlet accepts, with their offline floor limits, for a kiosk to cache."""
    outlet = outlet_for(uow, outlet_id)
    place = Outlet.from_record(outlet)
    schemes = []
    for reference in outlet["schemes"]:
        scheme = uow.schemes.get(slug=reference) or uow.schemes.get(id=reference)
        if scheme is None:
            continue
        spending = parse_rules(scheme["rules"]).spending
        if Scheme.from_record(scheme, spending).may_be_spent_at(place):
            schemes.append(
                OfflineScheme(
                    scheme["slug"],
                    scheme["name"],
                    scheme["unit"],
                    spending.offline_floor_limit_minor,
                    spending.refund_window_days,
                )
            )
    schemes.sort(key=lambda item: item.scheme)
    return OfflineProfile(outlet_id, outlet["name"], tuple(schemes))


def sync_offline_redemption(
    uow: UnitOfWork,
    *,
    request: OfflineRedemption,
    keyring: CardKeyring,
    now: dt.datetime,
    actor: str,
    key: str,
) -> OfflineSyncResult:
    """Post one offline redemption exactly once: the wallet pays what it covers, offline risk the rest."""
    online = _applied_online(uow, actor, key, request, now)
    if online is not None:
        return online

    def operation() -> dict[str, Any]:
        return dataclasses.asdict(_post(uow, request, keyring, now, actor, key))

    fingerprint = {
        "op": "offline-redemption",
        **dataclasses.asdict(request),
        "occurred_at": rfc3339(request.occurred_at),
    }
    return OfflineSyncResult(
        **once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)
    )


@dataclasses.dataclass(frozen=True)
class BatchItemResult:
    """One item of a synced batch: what it did, or why it was refused (and nothing of it was written)."""

    idempotency_key: str
    result: OfflineSyncResult | None = None
    refusal: LedgerError | None = None


def sync_offline_batch(
    write: Callable[[Callable[[UnitOfWork], OfflineSyncResult]], OfflineSyncResult],
    *,
    items: Sequence[tuple[str, OfflineRedemption]],
    keyring: CardKeyring,
    now: dt.datetime,
    actor: str,
) -> tuple[BatchItemResult, ...]:
    """Sync many offline redemptions, each exactly once under its own key and in its own transaction
    (`write` runs one): a refusal undoes only its own item, and no transaction holds an outlet's hot
    payable shards for longer than one spend, so counters at that outlet never queue behind a sync."""
    if not 1 <= len(items) <= MAX_BATCH_SIZE:
        raise ValidationFailed(f"a batch holds 1 to {MAX_BATCH_SIZE} offline redemptions")
    if len({key for key, _ in items}) != len(items):
        raise ValidationFailed("each offline redemption in a batch has its own idempotency key")
    results = []
    for key, request in items:
        try:
            result = write(
                functools.partial(
                    sync_offline_redemption, request=request, keyring=keyring, now=now, actor=actor, key=key
                )
            )
        except DatabaseUnavailable:
            raise  # the whole batch is answered 503: the kiosk sends it again, and what went through replays
        except LedgerError as refusal:
            results.append(BatchItemResult(key, refusal=refusal))
        else:
            results.append(BatchItemResult(key, result=result))
    return tuple(results)


def _applied_online(
    uow: UnitOfWork, actor: str, key: str, request: OfflineRedemption, now: dt.datetime
) -> OfflineSyncResult | None:
    """The online redemption this key already made (its answer was lost on the way back), if any."""
    found = uow.idempotency.find(actor + REQUEST_SCOPE_SUFFIX, key)
    if found is None or "shortfall_minor" in found[1] or found[1].get("kind") != "redeem":
        return None  # nothing yet, our own replay, or another operation (once() refuses a mismatch)
    receipt = found[1]
    return OfflineSyncResult(
        outcome="applied-online",
        scheme=str(receipt["scheme"]),
        unit=str(receipt["unit"]),
        card_number=str(receipt["card_number"]),
        outlet_id=str(receipt["outlet_id"]),
        amount_minor=int(receipt["amount_minor"]),
        covered_minor=int(receipt["amount_minor"]),
        shortfall_minor=0,
        occurred_at=rfc3339(request.occurred_at),
        recorded_at=str(receipt["recorded_at"]),
        redemption_transaction_id=str(receipt["transaction_id"]),
    )


def _card(uow: UnitOfWork, keyring: CardKeyring, token: str) -> dict[str, Any]:
    # Not resolve_card: a card blocked after the kiosk went offline was still honoured at the counter.
    try:
        claims = keyring.verify(token)
    except InvalidCardToken as error:
        raise InvalidToken(f"the card token is not valid ({error.reason})") from error
    card: dict[str, Any] | None = uow.people.card(claims.card_number)
    if card is None:
        raise InvalidToken("the card token names no card")
    return card


def _check(request: OfflineRedemption, outlet: Outlet, scheme: Scheme, now: dt.datetime) -> None:
    if type(request.amount_minor) is not int or request.amount_minor <= 0:
        raise ValidationFailed("amount_minor is a positive integer")
    if request.occurred_at > now + CLOCK_SKEW_ALLOWANCE:
        raise ValidationFailed("occurred_at is in the future")
    scheme.require_spendable_at(outlet)
    floor = scheme.spending.offline_floor_limit_minor
    if request.amount_minor > floor:
        limit = format_amount(floor, scheme.unit)
        raise LimitExceeded(f"{scheme.slug} allows at most {limit} per card per day offline")


def _post(
    uow: UnitOfWork,
    request: OfflineRedemption,
    keyring: CardKeyring,
    now: dt.datetime,
    actor: str,
    key: str,
) -> OfflineSyncResult:
    outlet = outlet_for(uow, request.outlet_id)
    card = _card(uow, keyring, request.card_token)
    scheme = get_scheme(uow, request.scheme)
    rules = parse_rules(scheme["rules"])
    place, here = Outlet.from_record(outlet), Scheme.from_record(scheme, rules.spending)
    _check(request, place, here, now)
    owner_id = str(card["resident_id"])
    categories = here.lot_categories_at(place)
    payable = payable_account(uow, request.outlet_id, scheme["unit"], now)
    covered, reason = 0, "card-blocked"
    # A card already reported lost when it was used: the thief's spend is not the resident's to pay.
    if card["blocked_at"] is None or card["blocked_at"] > request.occurred_at:
        uow.activity.lock_wallet(owner_id, scheme["id"])
        lots = uow.lots.wallet(owner_id, scheme["id"], lock=True)
        covered = max(0, min(request.amount_minor, available_to_spend(lots, now, categories)))
        reason = "insufficient-funds"
    redemption_id = None
    if covered:
        receipt = flows.spend(
            uow,
            scheme=scheme,
            owner_id=owner_id,
            amount_minor=covered,
            payable_account_id=payable,
            categories=categories,
            now=now,
            actor=actor,
            key=key,
            outlet_id=request.outlet_id,
            metadata={"offline": True, "occurred_at": rfc3339(request.occurred_at)},
        )
        redemption_id = receipt.transaction_id
    result = OfflineSyncResult(
        outcome="posted",
        scheme=scheme["slug"],
        unit=scheme["unit"],
        card_number=card["number"],
        outlet_id=request.outlet_id,
        amount_minor=request.amount_minor,
        covered_minor=covered,
        shortfall_minor=request.amount_minor - covered,
        occurred_at=rfc3339(request.occurred_at),
        recorded_at=rfc3339(now),
        redemption_transaction_id=redemption_id,
    )
    if result.shortfall_minor == 0:
        return result
    return _post_shortfall(uow, result, scheme, payable, reason, request, now, actor, key)


def _post_shortfall(
    uow: UnitOfWork,
    result: OfflineSyncResult,
    scheme: dict[str, Any],
    payable_account_id: str,
    reason: str,
    request: OfflineRedemption,
    now: dt.datetime,
    actor: str,
    key: str,
) -> OfflineSyncResult:
    """Pay the outlet the difference from the scheme's offline-risk account and flag it for staff."""
    unit = Unit(scheme["unit"])
    risk = ensure_account(
        uow,
        name=f"scheme:{scheme['slug']}:offline-risk",
        unit=unit,
        kind=AccountKind.RISK,
        floor_minor=None,
        now=now,
    )
    tx = draft(
        kind=SHORTFALL_KIND,
        postings=transfer_lines(unit, [(risk.id, result.shortfall_minor)], payable_account_id),
        now=now,
        actor=actor,
        idempotency_key=key,
        occurred_at=request.occurred_at,
        outlet_id=request.outlet_id,
        scheme_id=scheme["id"],
        rule_version=scheme["version"],
        metadata={"offline": True, "reason": reason, "redemption": result.redemption_transaction_id},
    )
    record(uow, tx)
    shortfall_id = new_id()
    uow.offline_shortfalls.add(
        id=shortfall_id,
        idempotency_key=key,
        actor=actor,
        outlet_id=request.outlet_id,
        scheme_id=scheme["id"],
        card_number=result.card_number,
        unit=unit.value,
        amount_minor=result.amount_minor,
        covered_minor=result.covered_minor,
        shortfall_minor=result.shortfall_minor,
        reason=reason,
        redemption_transaction_id=result.redemption_transaction_id,
        shortfall_transaction_id=tx.id,
        occurred_at=request.occurred_at,
        recorded_at=now,
    )
    return dataclasses.replace(
        result,
        outcome="posted-with-shortfall",
        shortfall_transaction_id=tx.id,
        shortfall_id=shortfall_id,
        shortfall_reason=reason,
    )


def offline_shortfalls(uow: UnitOfWork, *, limit: int, after: str) -> list[dict[str, Any]]:
    """Shortfalls found at sync, newest first, with the scheme's slug and amounts as people read them."""
    rows: list[dict[str, Any]] = uow.offline_shortfalls.page(limit=limit, after=after)
    slugs: dict[str, str] = {}
    result = []
    for row in rows:
        if row["scheme_id"] not in slugs:
            scheme = uow.schemes.get(id=row["scheme_id"])
            slugs[row["scheme_id"]] = scheme["slug"] if scheme else row["scheme_id"]
        result.append(
            {
                **row,
                "scheme": slugs[row["scheme_id"]],
                "occurred_at": rfc3339(row["occurred_at"]),
                "recorded_at": rfc3339(row["recorded_at"]),
                "shortfall": format_amount(row["shortfall_minor"], row["unit"]),
            }
        )
    return result
