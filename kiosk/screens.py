"""What the counter screens show, built from API answers or the offline cache: amounts as people read them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

from kiosk.outcomes import Outcome
from ledger.clock import parse_rfc3339
from ledger.units import format_amount

EXPIRES_SOON = dt.timedelta(days=31)


@dataclasses.dataclass(frozen=True)
class Expiring:
    """Value that expires soon: how much and on which day."""

    amount: str
    on: str


@dataclasses.dataclass(frozen=True)
class SchemeView:
    """One scheme the card may spend here: what is available, what is left today, what expires soon."""

    scheme: str
    name: str
    unit: str
    available: str | None
    max_now_minor: int
    max_now: str
    left_today: str | None
    expiring: tuple[Expiring, ...] = ()
    partial_spend: bool = True
    expired: tuple[Expiring, ...] = ()


@dataclasses.dataclass(frozen=True)
class CardView:
    """A scanned card as the counter sees it: no name, no birth date, only what may be spent here."""

    card_number: str
    token: str
    online: bool
    schemes: tuple[SchemeView, ...]

    @property
    def short_number(self) -> str:
        """The card number's last group, enough for staff to match the card in hand."""
        return "…" + self.card_number.rsplit("-", 1)[-1]


@dataclasses.dataclass(frozen=True)
class ReceiptView:
    """A receipt to show and print."""

    outcome: Outcome
    key: str
    kind: str
    scheme_name: str
    amount: str
    card_number: str
    at: str
    reference: str
    online: bool
    remaining_here: str | None = None
    remaining_in_scheme: str | None = None
    hold_id: str | None = None
    hold_amount_minor: int | None = None
    unit: str = "GBP"
    refundable: bool = False


def local_time(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """A time as people read it at the counter: 10:31 on 4 November 2026."""
    local = moment.astimezone(zone)
    return f"{local:%H:%M} on {local.day} {local:%B %Y}"


def local_day(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """A council day as people read it: 30 November 2026."""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%B %Y}"


def _expiring(lots: Any, unit: str, now: dt.datetime, zone: zoneinfo.ZoneInfo) -> tuple[Expiring, ...]:
    soon = []
    for lot in lots or ():
        if lot.get("expires_at") and lot.get("available_minor", 0) > 0:
            expires = parse_rfc3339(lot["expires_at"])
            if expires - now <= EXPIRES_SOON:
                soon.append(Expiring(format_amount(lot["available_minor"], unit), local_day(expires, zone)))
    return tuple(soon)


def _expired(lots: Any, unit: str, zone: zoneinfo.ZoneInfo) -> tuple[Expiring, ...]:
    """Value past its date that the expiry job has not yet taken back (an older API sends none)."""
    return tuple(
        Expiring(format_amount(lot["amount_minor"], unit), local_day(parse_rfc3339(lot["expired_at"]), zone))
        for lot in lots or ()
        if lot.get("expired_at") and lot.get("amount_minor", 0) > 0
    )


def online_card(body: Mapping[str, Any], token: str, now: dt.datetime, zone: zoneinfo.ZoneInfo) -> CardView:
    """A card from GET …/entitlements."""
    schemes = []
    for item in body.get("schemes", ()):
        unit = item["unit"]
        left = item.get("left_today_minor")
        schemes.append(
            SchemeView(
                scheme=item["scheme"],
                name=item["name"],
                unit=unit,
                available=format_amount(item["available_minor"], unit),
                max_now_minor=int(item["max_spend_now_minor"]),
                max_now=format_amount(item["max_spend_now_minor"], unit),
                left_today=None if left is None else format_amount(left, unit),
                expiring=_expiring(item.get("lots"), unit, now, zone),
                partial_spend=bool(item.get("partial_spend", True)),
                expired=_expired(item.get("expired"), unit, zone),
            )
        )
    return CardView(str(body["card_number"]), token, True, tuple(schemes))


def offline_card(
    card_number: str, token: str, profile: Mapping[str, Any], taken_today: Mapping[str, int]
) -> CardView:
    """A card checked offline: each scheme accepted here, with what is left of its offline limit today."""
    schemes = []
    for item in profile.get("schemes", ()):
        floor = int(item.get("offline_floor_limit_minor") or 0)
        if floor <= 0:
            continue
        left = max(0, floor - taken_today.get(item["scheme"], 0))
        unit = item["unit"]
        schemes.append(
            SchemeView(
                scheme=item["scheme"],
                name=item["name"],
                unit=unit,
                available=None,
                max_now_minor=left,
                max_now=format_amount(left, unit),
                left_today=format_amount(left, unit),
            )
        )
    return CardView(card_number, token, False, tuple(schemes))


def remaining(receipt: Mapping[str, Any], unit: str) -> tuple[str | None, str | None]:
    """What is left here and in the whole scheme after a spend (the old single field is read as both)."""
    here = receipt.get("remaining_here_minor", receipt.get("remaining_minor"))
    scheme = receipt.get("remaining_in_scheme_minor", receipt.get("remaining_minor"))
    return (
        None if here is None else format_amount(int(here), unit),
        None if scheme is None else format_amount(int(scheme), unit),
    )
