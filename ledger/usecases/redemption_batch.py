"""Redemptions in a batch, set-based: the rules of the single path, a fixed handful of statements per batch.

For up to N waiting redemptions: claim every idempotency key, read each card and place, lock every wallet
the spends name (advisory locks in name order, then lot rows in account id order) and read their lots and
spend counters, one statement each and on PostgreSQL all in one round trip; then plan every spend in order
with the one planner (`plan_wallet_spend`) on the wallet as its earlier batch-mates left it, so two spends
of one wallet see each other. A refusal is decided by the planner before anything is written and touches
no batch-mate. Then one floor-checked UPDATE of the lots, one INSERT each of headers, postings, counters
and answers, and one UPDATE of the outlets' payable shards, summed per account. Anything unusual (no scheme
named, a timed-out hold to release first, a key twice in the batch) is answered RUN_ALONE: the caller runs
it through the single path after the batch commits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from ledger.batch_reads import AskedSpend, Counter, RequestReads, Wallet
from ledger.cards.token import CardClaims, CardKeyring
from ledger.clock import rfc3339
from ledger.errors import (
    DatabaseUnavailable,
    IdempotencyInFlight,
    IdempotencyMismatch,
    LedgerError,
    RetryableConflict,
)
from ledger.journal import TransactionDraft
from ledger.kinds import TransactionKind
from ledger.places import payable_account_name
from ledger.ports import UnitOfWork
from ledger.receipts import Receipt
from ledger.records import LotRecord
from ledger.rules import Rules, parse_rules
from ledger.usecases.cards import card_named_by, token_claims
from ledger.usecases.common import check_idempotency_key, draft, fingerprint_of, transfer_lines
from ledger.usecases.redemption_batch_writes import PlannedSpend, write_planned
from ledger.usecases.redemptions import (
    PreparedSpend,
    SpendPlace,
    SpendRequest,
    payable_account,
    place_spend,
    plan_wallet_spend,
    redemption_fingerprint,
    spend_body,
)
from ledger.usecases.requests import REQUEST_SCOPE_SUFFIX
from ledger.usecases.schemes import get_scheme
from ledger.usecases.spending import council_day
from ledger.wallets import after_taking


class RunAlone:
    """The answer for a spend the batch leaves to the single path (after the batch commits)."""

    def __repr__(self) -> str:
        return "RUN_ALONE"


RUN_ALONE = RunAlone()
Outcome = dict[str, Any] | LedgerError | RunAlone


@dataclasses.dataclass(frozen=True)
class BatchedRedemption:
    """One redemption as POST /redemptions asks for it, waiting for its batch."""

    request: SpendRequest
    keyring: CardKeyring
    now: dt.datetime
    zone: dt.tzinfo
    actor: str
    key: str

    @property
    def scoped_key(self) -> tuple[str, str]:
        """The idempotency record's (scope, key), as the single path's `once` stores it."""
        return self.actor + REQUEST_SCOPE_SUFFIX, self.key

    @functools.cached_property
    def fingerprint(self) -> str:
        """The request's fingerprint for its idempotency record, once its key is checked (computed once)."""
        check_idempotency_key(self.key)
        return fingerprint_of(redemption_fingerprint(self.request))

    @functools.cached_property
    def day(self) -> tuple[dt.datetime, dt.datetime]:
        """The council day the spend falls on and counts towards, as UTC instants [start, end)."""
        return council_day(self.now, self.zone)

    @functools.cached_property
    def card_claims(self) -> CardClaims:
        """What the card token says, once its signature is verified (InvalidToken otherwise)."""
        return token_claims(self.keyring, self.request.card_token)


def prepare_redemption(spend: BatchedRedemption) -> None:
    """What needs no database, done in the writer's own thread before it queues, so the batch's leader
    does not: check the key, fingerprint the request, verify the card's signature. A refusal found
    here is left for the batch to give, in the single path's order."""
    with contextlib.suppress(LedgerError):
        spend.fingerprint  # noqa: B018
    with contextlib.suppress(LedgerError):
        spend.card_claims  # noqa: B018


def redeem_batch(uow: UnitOfWork, spends: Sequence[BatchedRedemption]) -> list[Outcome]:
    """Redeem every spend of the batch in the unit of work (see the module); one outcome per spend."""
    outcomes: list[Outcome | None] = [None] * len(spends)
    first = _keys(spends, outcomes)
    claims = _card_claims(spends, outcomes)
    asked = [
        AskedSpend(claim.card_number, str(spends[index].request.scheme), spends[index].request.outlet_id)
        for index, claim in claims.items()
    ]
    latest = max((spends[index].now for index in claims), default=None)
    days = {spends[index].day[0] for index in claims}
    reads, locked = uow.spend_batch.reads(list(first), asked, latest, days)
    _answer_claimed(spends, first, reads.claims, outcomes)
    places = _places(uow, spends, reads, outcomes)
    if not places:
        return _finished(outcomes)
    lots, counters, payables = locked.lots, locked.counters, dict(locked.payables)
    planned: list[PlannedSpend] = []
    for index, place in places.items():
        spend, wallet = spends[index], (place.owner_id, str(place.scheme["id"]))
        if wallet in locked.timed_out or wallet not in lots:
            # The single path releases timed-out holds first; a wallet not read (its card or scheme came
            # after the batch's read) is locked and read there.
            outcomes[index] = RUN_ALONE
            continue
        name = payable_account_name(spend.request.outlet_id, str(place.scheme["unit"]))
        if name not in payables:  # the outlet's first spend in this unit opens its payable account
            payables[name] = payable_account(uow, spend.request.outlet_id, place.scheme["unit"], spend.now)
        try:
            accepted = _plan(spend, place, lots, counters, wallet, payables[name])
        except LedgerError as refusal:
            outcomes[index] = refusal
            continue
        planned.append(
            PlannedSpend(
                index,
                spend.fingerprint,
                *accepted,
                spend.scoped_key,
                spend.now,
                spend.day,
                spend.request.amount_minor,
            )
        )
    write_planned(uow, planned, lots)
    for item in planned:
        outcomes[item.index] = item.body
    return _finished(outcomes)


def _keys(spends: Sequence[BatchedRedemption], outcomes: list[Outcome | None]) -> dict[tuple[str, str], int]:
    """Each well-formed key once, to the spend that claims it; a bad key or request is refused now."""
    first: dict[tuple[str, str], int] = {}
    for index, spend in enumerate(spends):
        try:
            spend.fingerprint  # noqa: B018 (checks the key and fingerprints the request, once)
        except LedgerError as refusal:
            outcomes[index] = refusal
            continue
        if spend.scoped_key in first:  # the same key twice: the second replays the first, after commit
            outcomes[index] = RUN_ALONE
            continue
        first[spend.scoped_key] = index
    return first


def _answer_claimed(
    spends: Sequence[BatchedRedemption],
    first: dict[tuple[str, str], int],
    claims: dict[tuple[str, str], tuple[bool, tuple[str, Any] | None]],
    outcomes: list[Outcome | None],
) -> None:
    """Answer replays, mismatches and keys in flight elsewhere, before any rule is applied."""
    for scoped_key, index in first.items():
        claimed, stored = claims[scoped_key]
        if not claimed:
            outcomes[index] = IdempotencyInFlight("a request with this idempotency key is still in flight")
        elif stored is not None and stored[0] != spends[index].fingerprint:
            outcomes[index] = IdempotencyMismatch("this idempotency key was used for a different request")
        elif stored is not None:
            outcomes[index] = dict(stored[1])


def _card_claims(
    spends: Sequence[BatchedRedemption], outcomes: list[Outcome | None]
) -> dict[int, CardClaims]:
    """What each open spend's card token says (verified in the writer's thread, as a rule before it
    queued); a spend naming no scheme is left to the single path, which chooses among the card's."""
    claims: dict[int, CardClaims] = {}
    for index, spend in enumerate(spends):
        if outcomes[index] is not None:
            continue
        if spend.request.scheme is None:  # choosing among the card's schemes reads wallets: single path
            outcomes[index] = RUN_ALONE
            continue
        try:
            claims[index] = spend.card_claims
        except LedgerError:
            continue  # refused in _places, after the key's claim, in the single path's order
    return claims


def _places(
    uow: UnitOfWork,
    spends: Sequence[BatchedRedemption],
    reads: RequestReads,
    outcomes: list[Outcome | None],
) -> dict[int, SpendPlace]:
    """Card, outlet and scheme checks of every spend still open, on what the batch read for them."""
    parsed: dict[str, Rules] = {}  # each named scheme's rules parsed once
    places: dict[int, SpendPlace] = {}
    for index, spend in enumerate(spends):
        if outcomes[index] is not None:
            continue
        slug = spend.request.scheme
        assert slug is not None
        try:
            claim = spend.card_claims  # verified once; a bad token raises its refusal here
            scheme = reads.schemes.get(slug) or get_scheme(uow, slug)  # NotFound, worded once
            if slug not in parsed:
                parsed[slug] = parse_rules(scheme["rules"])
            card = reads.cards.get(claim.card_number)
            places[index] = place_spend(
                uow,
                spend.request,
                spend.keyring,
                spend.now,
                outlet=reads.outlets.get(spend.request.outlet_id),
                scheme=scheme,
                rules=parsed[slug],
                card=card_named_by(claim, None if card is None else dict(card)),
            )
        except (RetryableConflict, DatabaseUnavailable):
            raise
        except LedgerError as refusal:
            outcomes[index] = refusal
    return places


def _plan(
    spend: BatchedRedemption,
    place: SpendPlace,
    lots: dict[Wallet, list[LotRecord]],
    counters: dict[Wallet, list[Counter]],
    wallet: Wallet,
    payable: str,
) -> tuple[TransactionDraft, PreparedSpend, dict[str, Any]]:
    """Plan one spend on the wallet as its batch-mates left it; move the wallet and its counter on."""
    request, now, day = spend.request, spend.now, spend.day
    spent = sum(amount for start, end, amount in counters[wallet] if start <= now < end)
    wallet_lots = lots[wallet]
    plan = plan_wallet_spend(place, request.amount_minor, wallet_lots, spent, now, spend.zone)
    scheme = place.scheme
    tx = draft(
        kind=TransactionKind.REDEEM,
        postings=transfer_lines(place.unit, plan, payable),
        now=now,
        actor=spend.actor,
        idempotency_key=spend.key,
        outlet_id=request.outlet_id,
        scheme_id=scheme["id"],
        rule_version=scheme["version"],
        metadata=None,
    )
    before = sum(lot.balance_minor for lot in wallet_lots)
    receipt = Receipt(
        tx.id, TransactionKind.REDEEM, place.unit.value, request.amount_minor, rfc3339(now), tuple(plan),
        before - request.amount_minor,
    )  # fmt: skip
    prepared = PreparedSpend(
        place.owner_id, place.card_number, scheme, place.categories, plan, wallet_lots, payable
    )
    body = spend_body(receipt, prepared, request.outlet_id, now)
    lots[wallet] = after_taking(wallet_lots, plan)
    counters[wallet] = [*_without_day(counters[wallet], day), (*day, spent + request.amount_minor)]
    return tx, prepared, body


def _without_day(counters: list[Counter], day: tuple[dt.datetime, dt.datetime]) -> list[Counter]:
    return [counter for counter in counters if counter[0] != day[0]]


def _finished(outcomes: list[Outcome | None]) -> list[Outcome]:
    assert all(outcome is not None for outcome in outcomes), "every spend of a batch gets an answer"
    return [outcome for outcome in outcomes if outcome is not None]
