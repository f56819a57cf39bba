"""What a scanned card may spend at the calling outlet, scheme by scheme."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ledger.cards.token import CardKeyring
from ledger.clock import rfc3339
from ledger.places import Outlet, Scheme
from ledger.ports import UnitOfWork
from ledger.rules import period_start
from ledger.usecases.cards import resolve_card
from ledger.usecases.holds import as_released
from ledger.usecases.requests import outlet_for
from ledger.usecases.spending import expired_here, expired_value_minor, left_today, max_spend_now
from ledger.wallets import available_to_spend, spend_order, spendable


def entitlements(
    uow: UnitOfWork,
    *,
    keyring: CardKeyring,
    token: str,
    outlet_id: str,
    now: dt.datetime,
    zone: dt.tzinfo,
) -> dict[str, Any]:
    """Per scheme the outlet accepts and the resident belongs to: what may be spent here, now."""
    outlet = Outlet.from_record(outlet_for(uow, outlet_id))
    card = resolve_card(uow, keyring=keyring, token=token)
    owner_id = str(card["resident_id"])
    result = []
    for membership in uow.people.memberships_of(owner_id):
        scheme = uow.schemes.get(id=membership["scheme_id"])
        here = Scheme.from_record(scheme)
        if not here.may_be_spent_at(outlet):
            continue
        spending, categories = here.spending, here.lot_categories_at(outlet)
        # A read cannot post the release of a timed-out hold, so it shows the wallet as that release will.
        lots, timed_out = as_released(
            uow, uow.lots.wallet(owner_id, scheme["id"]), owner_id, scheme["id"], now
        )
        available = available_to_spend(lots, now, categories)
        today = period_start("day", now, zone)
        spent = uow.activity.spent_on_day(owner_id, scheme["id"], now)
        spent = max(0, spent - sum(hold.amount_minor for hold in timed_out if hold.created_at >= today))
        usable = [
            lot for lot in spend_order(lots) if spendable(lot, now, categories) and lot.available_minor > 0
        ]
        # Past their date but not yet swept by the expiry job: the counter can say why a spend is refused.
        expired = spend_order(expired_here(lots, now, categories))
        result.append(
            {
                "scheme": scheme["slug"],
                "name": scheme["name"],
                "unit": scheme["unit"],
                "rule_version": scheme["version"],
                "available_minor": available,
                "max_spend_now_minor": max_spend_now(spending, available, spent),
                "per_transaction_limit_minor": spending.per_transaction_limit_minor,
                "per_day_limit_minor": spending.per_day_limit_minor,
                "spent_today_minor": spent,
                "left_today_minor": left_today(spending, spent),
                "partial_spend": spending.partial_spend,
                "offline_floor_limit_minor": spending.offline_floor_limit_minor,
                "refund_window_days": spending.refund_window_days,
                "lots": [
                    {
                        "category": lot.category,
                        "expires_at": lot.expires_at and rfc3339(lot.expires_at),
                        "available_minor": lot.available_minor,
                    }
                    for lot in usable
                ],
                "expired": [
                    {
                        "category": lot.category,
                        "expired_at": lot.expires_at and rfc3339(lot.expires_at),
                        "amount_minor": expired_value_minor(lot),
                    }
                    for lot in expired
                ],
            }
        )
    result.sort(key=lambda item: item["scheme"])
    return {"card_number": card["number"], "outlet_id": outlet_id, "at": rfc3339(now), "schemes": result}
