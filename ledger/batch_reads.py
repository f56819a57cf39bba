"""What a batch of spends reads before it plans: its requests' keys, cards, outlets and schemes, and the
wallets they name, locked. ledger.db.spend_batch_repository reads them; ledger.usecases.redemption_batch
plans."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, NamedTuple

from ledger.records import LotRecord

Wallet = tuple[str, str]  # (owner id, scheme id)
ScopedKey = tuple[str, str]  # (idempotency scope, key)
Counter = tuple[dt.datetime, dt.datetime, int]  # a wallet's spend counter: (day start, day end, spent)


class AskedSpend(NamedTuple):
    """What one spend of a batch names, once its card's signature is verified: its wallet is the card's
    resident's in the scheme, and the outlet is owed it on its payable account in the scheme's unit."""

    card_number: str
    scheme_slug: str
    outlet_id: str


@dataclasses.dataclass(frozen=True)
class RequestReads:
    """What a batch reads for its requests before it knows their wallets."""

    claims: dict[ScopedKey, tuple[bool, tuple[str, Any] | None]]  # claimed?, and the stored answer
    cards: dict[str, dict[str, Any]]  # by number, as KeysRepository.card_for_token reads one
    outlets: dict[str, dict[str, Any]]  # by id, as RegistryRepository.outlet reads one
    schemes: dict[str, dict[str, Any]]  # by slug, with their current rules, as SchemesRepository.get


@dataclasses.dataclass(frozen=True)
class WalletReads:
    """What a batch reads of the wallets its spends name, once they are locked."""

    timed_out: set[Wallet]  # wallets with a pending hold past its timeout (to be released first)
    lots: dict[Wallet, list[LotRecord]]  # every lot, its balance row locked until commit
    counters: dict[Wallet, list[Counter]]  # those of the council days the batch's spends fall on
    payables: dict[str, str]  # account id by name, of the payable accounts that exist
